//! `mongodb+srv://` URIs are understood: the driver looks their SRV records up. There is no
//! network where the tests run, and `.invalid` never resolves anyway, so the lookup fails; what
//! matters is that it fails as a lookup, not as a URI form the build does not support.

use std::time::Duration;

use adapter_mongo::MongoStore;
use mongodb::error::ErrorKind;

#[tokio::test]
async fn an_srv_uri_is_looked_up_in_dns_rather_than_refused_as_unsupported() {
    let error = MongoStore::connect(
        "mongodb+srv://cluster0.invalid/billing",
        Duration::from_secs(2),
    )
    .await
    .expect_err("cluster0.invalid has no SRV records");
    let driver = error
        .chain()
        .find_map(|e| e.downcast_ref::<mongodb::error::Error>())
        .unwrap_or_else(|| panic!("not a driver error: {error:#}"));
    assert!(
        matches!(*driver.kind, ErrorKind::DnsResolve { .. }),
        "{error:#}"
    );
    assert!(
        format!("{error:#}").contains("cannot resolve the SRV records of MONGODB_URI"),
        "{error:#}"
    );
}
