//! SigV4 on S3 Tables checked by someone else's verifier: the emulator started with its
//! authentication on (`AUTH=true`), which recomputes the signature of every request made with
//! an IAM user's key, so the catalog's REST calls and the control-plane calls sluice signs
//! are accepted only if they are signed as AWS signs them, and a wrong secret is refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use reqwest_rest_catalog as reqwest;
use sluice_aws::emulator::{Ministack, REGION};
use sluice_aws::open_s3tables_lake;
use sluice_aws::s3tables::TableBuckets;
use sluice_aws::sigv4::SigV4Signer;
use sluice_core::config::Config;
use sluice_core::contract::Contract;

const LEASE: Duration = Duration::from_secs(900);

/// The shared emulator of this test binary, with authentication on.
fn ministack() -> &'static Ministack {
    static AUTH_ON: std::sync::Once = std::sync::Once::new();
    // Before the first start: the emulator process inherits the environment.
    AUTH_ON.call_once(|| std::env::set_var("AUTH", "true"));
    Ministack::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// One IAM query API call, signed with the emulator's root key; the answer's XML.
async fn iam(root: &SdkConfig, params: &[(&str, &str)]) -> String {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let signer = SigV4Signer::new(
        root.credentials_provider().unwrap(),
        REGION.to_string(),
        "iam",
    );
    let mut form = params.to_vec();
    form.push(("Version", "2010-05-08"));
    let http = reqwest::Client::new();
    let mut request = http
        .post(ministack().endpoint())
        .form(&form)
        .build()
        .unwrap();
    signer
        .sign_at(&mut request, std::time::SystemTime::now())
        .await
        .unwrap();
    let response = http.execute(request).await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "IAM {params:?}: {status} {text}");
    text
}

/// An IAM user allowed everything on S3 Tables and S3, made with the emulator's root key:
/// (access key id, secret). The root key's requests are not verified; a user's are.
async fn iam_user() -> (String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let root = sdk("test", "test").await;
    let user = format!(
        "sluice-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    iam(&root, &[("Action", "CreateUser"), ("UserName", &user)]).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3tables:*","s3:*"],"Resource":"*"}]}"#;
    iam(
        &root,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", &user),
            ("PolicyName", "all"),
            ("PolicyDocument", policy),
        ],
    )
    .await;
    let key = iam(&root, &[("Action", "CreateAccessKey"), ("UserName", &user)]).await;
    let field = |name: &str| {
        key.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{name}>")).next())
            .unwrap_or_else(|| panic!("no {name} in {key}"))
            .to_string()
    };
    (field("AccessKeyId"), field("SecretAccessKey"))
}

async fn sdk(key: &str, secret: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .endpoint_url(ministack().endpoint())
        .load()
        .await
}

fn bucket_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "signed-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[tokio::test]
async fn signed_catalog_and_control_plane_calls_are_accepted() {
    let (key, secret) = iam_user().await;
    let sdk = sdk(&key, &secret).await;
    let arn = TableBuckets::from_conf(&sdk)
        .unwrap()
        .create_table_bucket(&bucket_name())
        .await
        .unwrap();
    let lake = open_s3tables_lake(&sdk, &arn, LEASE).await.unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders");
    let config = Config::load(&example.join("sluice.toml")).unwrap();
    let mut table = config.tables[0].clone();
    table.namespace = format!("signed_{}", std::process::id());
    let schema = Contract::load(&config.contract_path(&table))
        .unwrap()
        .table_schema;
    // Config, namespace lookup and creation, table creation, its maintenance configuration
    // and a load: each request's signature recomputed by the emulator.
    let created = lake.load_or_create(&table, &schema).await.unwrap();
    let loaded = lake.load(&table).await.unwrap().unwrap();
    assert_eq!(created.metadata().uuid(), loaded.metadata().uuid());
}

#[tokio::test]
async fn a_request_signed_with_the_wrong_secret_is_refused() {
    let (key, secret) = iam_user().await;
    let good = sdk(&key, &secret).await;
    let arn = TableBuckets::from_conf(&good)
        .unwrap()
        .create_table_bucket(&bucket_name())
        .await
        .unwrap();
    let bad = sdk(&key, "not-the-secret").await;
    let refused = TableBuckets::from_conf(&bad)
        .unwrap()
        .create_table_bucket(&bucket_name())
        .await
        .unwrap_err();
    assert!(refused.message.contains("403"), "{refused}");
    let lake = open_s3tables_lake(&bad, &arn, LEASE).await.unwrap();
    let ns = iceberg::NamespaceIdent::new("refused".into());
    let e = lake.catalog().namespace_exists(&ns).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("signature"), "{e}");
}
