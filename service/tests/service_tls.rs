//! TLS between clients and the server: certificates made here with rcgen (nothing committed).
//! The right CA connects; a wrong CA, an expired certificate, a plaintext client against a TLS
//! server (and the reverse) and, with client-certificate auth, a client without a trusted
//! certificate are refused with an error that says why.

mod service_support;

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use service_support::TestServer;
use zkinfer_service::cli::service_cmds::{connect, describe_status, ClientArgs};
use zkinfer_service::server::pb;
use zkinfer_service::server::ServerTls;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Ca { cert: p.self_signed(&key).unwrap(), key }
}

/// A certificate for `name` signed by `ca`: `(cert_pem, key_pem)`.
fn leaf(ca: &Ca, name: &str, client: bool, expired: bool) -> (String, String) {
    let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    (p.signed_by(&key, &ca.cert, &ca.key).unwrap().pem(), key.serialize_pem())
}

/// PEM files in a temporary directory.
struct Pems(tempfile::TempDir);

impl Pems {
    fn new() -> Pems {
        Pems(tempfile::tempdir().unwrap())
    }

    fn put(&self, name: &str, pem: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, pem).unwrap();
        p
    }
}

/// A TLS server for `localhost` with a certificate signed by `ca` (expired or not), optionally requiring client certificates.
async fn tls_server(pems: &Pems, ca: &Ca, expired: bool, client_ca: Option<&Ca>) -> TestServer {
    let (cert, key) = leaf(ca, "localhost", false, expired);
    let (cert, key) = (pems.put("server.pem", &cert), pems.put("server.key", &key));
    let client_ca = client_ca.map(|c| pems.put("client-ca.pem", &c.cert.pem()));
    let tls = ServerTls::from_files(&cert, &key, client_ca.as_deref()).unwrap();
    TestServer::start(move |o| o.tls = Some(tls)).await
}

fn https(ts: &TestServer) -> String {
    format!("https://localhost:{}", ts.server.addr.port())
}

/// Connects and makes one call; the error chain as text on failure.
async fn call(args: ClientArgs) -> Result<(), String> {
    let mut client = connect(&args).await.map_err(|e| format!("{e:#}"))?;
    client.list_jobs(pb::ListJobsRequest::default()).await.map(drop).map_err(|s| describe_status(&s))
}

#[tokio::test]
async fn right_ca_connects_wrong_ca_and_plaintext_do_not() {
    let (pems, good, other) = (Pems::new(), ca("zkinfer test CA"), ca("some other CA"));
    let ts = tls_server(&pems, &good, false, None).await;
    let good_ca = pems.put("ca.pem", &good.cert.pem());
    call(ClientArgs { server: Some(https(&ts)), ca: Some(good_ca.clone()), ..Default::default() }).await.expect("the right CA connects");

    let err = call(ClientArgs { server: Some(https(&ts)), ca: Some(pems.put("other.pem", &other.cert.pem())), ..Default::default() })
        .await
        .expect_err("a certificate from another CA is refused");
    assert!(err.contains("not signed by a trusted CA"), "{err}");

    let err = call(ClientArgs { server: Some(ts.url()), ..Default::default() }).await.expect_err("a plaintext client is refused");
    assert!(err.contains("if it serves TLS, use an https:// URL"), "{err}");

    let err = call(ClientArgs { server: Some(ts.url()), ca: Some(good_ca), ..Default::default() }).await.expect_err("--ca needs https");
    assert!(err.contains("need an https:// server URL"), "{err}");
    ts.server.shutdown().await.unwrap();

    let plain = TestServer::start(|_| {}).await;
    let url = format!("https://localhost:{}", plain.server.addr.port());
    let err = call(ClientArgs { server: Some(url), ca: Some(pems.put("ca2.pem", &good.cert.pem())), ..Default::default() })
        .await
        .expect_err("a TLS client cannot talk to a plaintext server");
    assert!(err.contains("does not speak TLS"), "{err}");
    plain.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn expired_server_certificate_is_refused() {
    let (pems, good) = (Pems::new(), ca("zkinfer test CA"));
    let ts = tls_server(&pems, &good, true, None).await;
    let err = call(ClientArgs { server: Some(https(&ts)), ca: Some(pems.put("ca.pem", &good.cert.pem())), ..Default::default() })
        .await
        .expect_err("an expired certificate is refused");
    assert!(err.contains("expired"), "{err}");
    ts.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_certificates_are_required_with_a_client_ca() {
    let (pems, server_ca, client_ca, rogue) = (Pems::new(), ca("server CA"), ca("client CA"), ca("rogue CA"));
    let ts = tls_server(&pems, &server_ca, false, Some(&client_ca)).await;
    let ca_path = pems.put("ca.pem", &server_ca.cert.pem());
    let with_cert = |issuer: &Ca, tag: &str| {
        let (cert, key) = leaf(issuer, "alice", true, false);
        ClientArgs {
            server: Some(https(&ts)),
            ca: Some(ca_path.clone()),
            client_cert: Some(pems.put(&format!("{tag}.pem"), &cert)),
            client_key: Some(pems.put(&format!("{tag}.key"), &key)),
            ..Default::default()
        }
    };
    call(with_cert(&client_ca, "alice")).await.expect("a client certificate from the client CA connects");
    let err = call(with_cert(&rogue, "mallory")).await.expect_err("a certificate from another CA is refused");
    assert!(err.contains("did not accept a client certificate"), "{err}");
    let err = call(ClientArgs { server: Some(https(&ts)), ca: Some(ca_path.clone()), ..Default::default() })
        .await
        .expect_err("a client without a certificate is refused");
    assert!(err.contains("did not accept a client certificate"), "{err}");
    ts.server.shutdown().await.unwrap();
}
