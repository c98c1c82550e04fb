//! Key material for a throw-away control plane: a certificate authority, a serving
//! certificate for `127.0.0.1`/`localhost` signed by it, and a service-account signing key.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Paths of the files written by [`write_pki`], plus the CA in memory for clients.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_cert: PathBuf,
    /// The CA certificate, DER, for `kube::Config::root_cert`.
    pub ca_der: Vec<u8>,
    /// The apiserver's serving certificate, PEM.
    pub serving_cert: PathBuf,
    /// The apiserver's serving key, PEM.
    pub serving_key: PathBuf,
    /// The service-account signing key, private key PEM.
    pub service_account_key: PathBuf,
    /// The service-account verification key, public key PEM.
    pub service_account_public_key: PathBuf,
}

fn write(path: &Path, contents: &str) -> Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Generates the key material and writes it as PEM files into `dir`.
pub fn write_pki(dir: &Path) -> Result<Pki> {
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "commandbridge-testenv-ca");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("self-signing the CA certificate")?;
    let ca_pem = ca_cert.pem();
    let ca_der = ca_cert.der().to_vec();
    let issuer = Issuer::new(ca_params, ca_key);

    let serving_key = KeyPair::generate().context("generating the serving key")?;
    let mut serving_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .context("serving certificate parameters")?;
    let mut serving_name = DistinguishedName::new();
    serving_name.push(DnType::CommonName, "kube-apiserver");
    serving_params.distinguished_name = serving_name;
    serving_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving_params
        .signed_by(&serving_key, &issuer)
        .context("signing the serving certificate")?;

    let service_account_key = KeyPair::generate().context("generating the service-account key")?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_der,
        serving_cert: dir.join("serving.crt"),
        serving_key: dir.join("serving.key"),
        service_account_key: dir.join("service-account.key"),
        service_account_public_key: dir.join("service-account.pub"),
    };
    write(&pki.ca_cert, &ca_pem)?;
    write(&pki.serving_cert, &serving_cert.pem())?;
    write(&pki.serving_key, &serving_key.serialize_pem())?;
    write(
        &pki.service_account_key,
        &service_account_key.serialize_pem(),
    )?;
    write(
        &pki.service_account_public_key,
        &service_account_key.public_key_pem(),
    )?;
    Ok(pki)
}
