//! A local EPP server for the tests: TLS (a self-signed certificate made by rcgen), RFC 5734
//! framing (a 4-byte length prefix that counts itself), a greeting, and answers shaped like
//! the RFCs' example responses (RFC 5730 §2, RFC 5731 §3, RFC 5733 §3, RFC 3915 §4),
//! adapted to what was asked and to a small in-memory registry.
//!
//! Every frame a client sends is first validated against the IANA schemas with
//! `xmllint --schema tests/epp-schemas/all.xsd`; an invalid frame is answered with result
//! 2001 (command syntax error) carrying xmllint's complaint, as a strict registry would, and
//! is kept in [`EppServer::invalid_frames`].

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "panel1-test";
pub const PASSWORD: &str = "Epp-s3cret-pass!";
pub const OTHER: &str = "OtherRegistrar";

#[derive(Clone, Debug)]
pub struct Transfer {
    pub status: String,
    pub re_id: String,
    pub re_date: DateTime<Utc>,
    pub ac_id: String,
    pub ac_date: DateTime<Utc>,
    pub years: u32,
}

#[derive(Clone, Debug)]
pub struct Dom {
    pub roid: String,
    pub clid: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub ns: Vec<String>,
    pub statuses: BTreeSet<String>,
    pub registrant: String,
    pub contacts: Vec<(String, String)>,
    pub pw: String,
    pub transfer: Option<Transfer>,
    pub rgp: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Con {
    pub name: String,
    pub org: Option<String>,
    pub street: Vec<String>,
    pub city: String,
    pub sp: Option<String>,
    pub pc: Option<String>,
    pub cc: String,
    pub voice: String,
    pub email: String,
    pub created: String,
}

#[derive(Default)]
pub struct EppState {
    pub domains: HashMap<String, Dom>,
    pub contacts: HashMap<String, Con>,
    /// Every frame received: (its command element, valid against the schemas).
    pub frames: Vec<(String, bool)>,
    pub invalid: Vec<(String, String)>,
    /// Answers of this server that fail the schemas (the server's own fidelity).
    pub invalid_answers: Vec<(String, String)>,
    /// The clTRID of every command, in order.
    pub cltrids: Vec<String>,
    /// Apply the next mutating domain command, then drop the connection without answering.
    pub lose_next: bool,
}

pub type Shared = Arc<Mutex<EppState>>;

pub struct EppServer {
    pub port: u16,
    pub ca_pem: String,
    pub state: Shared,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for EppServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn schemas() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/epp-schemas/all.xsd")
}

static SV: AtomicU64 = AtomicU64::new(1);

pub async fn start() -> EppServer {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    let ca_pem = cert.pem();
    let der: CertificateDer<'static> = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let frames_dir = dir.path().to_owned();
    let state: Shared = Arc::new(Mutex::new(EppState::default()));
    let st = state.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let st = st.clone();
            let frames_dir = frames_dir.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = session(tls, st, frames_dir).await;
                }
            });
        }
    });
    EppServer {
        port,
        ca_pem,
        state,
        task,
        _dir: dir,
    }
}

async fn write_frame<S: AsyncWriteExt + Unpin>(s: &mut S, xml: &str) -> std::io::Result<()> {
    let len = (xml.len() + 4) as u32;
    s.write_all(&len.to_be_bytes()).await?;
    s.write_all(xml.as_bytes()).await?;
    s.flush().await
}

async fn read_frame<S: AsyncReadExt + Unpin>(s: &mut S) -> std::io::Result<String> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len) as usize;
    if !(5..=1 << 20).contains(&n) {
        return Err(std::io::Error::other("bad frame length"));
    }
    let mut buf = vec![0u8; n - 4];
    s.read_exact(&mut buf).await?;
    String::from_utf8(buf).map_err(std::io::Error::other)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn greeting() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <greeting>
    <svID>Example EPP server epp.example.com</svID>
    <svDate>{}</svDate>
    <svcMenu>
      <version>1.0</version>
      <lang>en</lang>
      <objURI>urn:ietf:params:xml:ns:domain-1.0</objURI>
      <objURI>urn:ietf:params:xml:ns:contact-1.0</objURI>
      <objURI>urn:ietf:params:xml:ns:host-1.0</objURI>
      <svcExtension>
        <extURI>urn:ietf:params:xml:ns:rgp-1.0</extURI>
      </svcExtension>
    </svcMenu>
    <dcp>
      <access><all/></access>
      <statement>
        <purpose><admin/><prov/></purpose>
        <recipient><ours/><public/></recipient>
        <retention><stated/></retention>
      </statement>
    </dcp>
  </greeting>
</epp>"#,
        ts(now())
    )
}

fn response(code: u16, msg: &str, res_data: &str, extension: &str, cltrid: &str) -> String {
    let sv = SV.fetch_add(1, Ordering::Relaxed);
    let res = if res_data.is_empty() {
        String::new()
    } else {
        format!("<resData>{res_data}</resData>")
    };
    let ext = if extension.is_empty() {
        String::new()
    } else {
        format!("<extension>{extension}</extension>")
    };
    let cl = if cltrid.is_empty() {
        String::new()
    } else {
        format!("<clTRID>{}</clTRID>", esc(cltrid))
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<epp xmlns="urn:ietf:params:xml:ns:epp-1.0">
  <response>
    <result code="{code}">
      <msg>{}</msg>
    </result>
    {res}{ext}
    <trID>{cl}<svTRID>54322-XYZ-{sv}</svTRID></trID>
  </response>
</epp>"#,
        esc(msg)
    )
}

const DOMAIN_NS: &str = r#"xmlns:domain="urn:ietf:params:xml:ns:domain-1.0""#;
const CONTACT_NS: &str = r#"xmlns:contact="urn:ietf:params:xml:ns:contact-1.0""#;

pub async fn validate(dir: &std::path::Path, xml: &str) -> Result<(), String> {
    let n = SV.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("frame-{n}.xml"));
    tokio::fs::write(&path, xml)
        .await
        .map_err(|e| e.to_string())?;
    let out = tokio::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schemas())
        .arg(&path)
        .output()
        .await
        .map_err(|e| format!("xmllint could not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn session<S: AsyncReadExt + AsyncWriteExt + Unpin>(
    mut s: S,
    st: Shared,
    dir: PathBuf,
) -> std::io::Result<()> {
    let hello = greeting();
    if let Err(why) = validate(&dir, &hello).await {
        st.lock()
            .unwrap()
            .invalid_answers
            .push(("greeting".into(), why));
    }
    write_frame(&mut s, &hello).await?;
    let mut client: Option<String> = None;
    loop {
        let xml = read_frame(&mut s).await?;
        let verdict = validate(&dir, &xml).await;
        let (answer, lose, close) = {
            let mut state = st.lock().unwrap();
            handle(&mut state, &mut client, &xml, verdict)
        };
        if lose {
            return Ok(());
        }
        if let Err(why) = validate(&dir, &answer).await {
            st.lock()
                .unwrap()
                .invalid_answers
                .push((answer.clone(), why));
        }
        write_frame(&mut s, &answer).await?;
        if close {
            return Ok(());
        }
    }
}

fn local<'a>(n: &roxmltree::Node<'a, '_>) -> &'a str {
    n.tag_name().name()
}

fn kid<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn txt(n: Option<roxmltree::Node<'_, '_>>) -> String {
    n.and_then(|n| n.text()).unwrap_or("").trim().to_owned()
}

/// Answers one frame: (answer, drop the connection before answering, close after answering).
fn handle(
    s: &mut EppState,
    client: &mut Option<String>,
    xml: &str,
    verdict: Result<(), String>,
) -> (String, bool, bool) {
    let doc = match roxmltree::Document::parse(xml) {
        Ok(d) => d,
        Err(e) => {
            return (
                response(2001, &format!("Command syntax error: {e}"), "", "", ""),
                false,
                false,
            );
        }
    };
    let root = doc.root_element();
    let first = root.children().find(|c| c.is_element());
    let Some(first) = first else {
        return (
            response(2001, "Command syntax error", "", "", ""),
            false,
            false,
        );
    };
    if local(&first) == "hello" {
        s.frames.push(("hello".into(), verdict.is_ok()));
        return (greeting(), false, false);
    }
    let cltrid = txt(kid(first, "clTRID"));
    s.cltrids.push(cltrid.clone());
    let Some(cmd) = first
        .children()
        .find(|c| c.is_element() && local(c) != "clTRID" && local(c) != "extension")
    else {
        return (
            response(2001, "Command syntax error", "", "", &cltrid),
            false,
            false,
        );
    };
    let object = cmd.children().find(|c| c.is_element());
    let label = format!(
        "{}{}",
        local(&cmd),
        object
            .map(|o| format!(
                " {}:{}",
                o.tag_name()
                    .namespace()
                    .unwrap_or("")
                    .rsplit(':')
                    .next()
                    .unwrap_or(""),
                local(&o)
            ))
            .unwrap_or_default()
    );
    s.frames.push((label.clone(), verdict.is_ok()));
    if let Err(why) = verdict {
        s.invalid.push((label, why.clone()));
        return (
            response(
                2001,
                &format!("Command syntax error: {}", why.lines().next().unwrap_or("")),
                "",
                "",
                &cltrid,
            ),
            false,
            false,
        );
    }
    let ok =
        |res: &str, ext: &str| response(1000, "Command completed successfully", res, ext, &cltrid);
    let err = |code: u16, msg: &str| (response(code, msg, "", "", &cltrid), false, false);

    match local(&cmd) {
        "login" => {
            if txt(kid(cmd, "clID")) == CLIENT_ID && txt(kid(cmd, "pw")) == PASSWORD {
                *client = Some(CLIENT_ID.to_owned());
                return (ok("", ""), false, false);
            }
            return err(2200, "Authentication error");
        }
        "logout" => {
            return (
                response(
                    1500,
                    "Command completed successfully; ending session",
                    "",
                    "",
                    &cltrid,
                ),
                false,
                true,
            );
        }
        _ => {}
    }
    let Some(me) = client.clone() else {
        return err(2002, "Command use error: login first");
    };
    let Some(obj) = object else {
        return err(2001, "Command syntax error");
    };
    let is_domain = obj.tag_name().namespace() == Some("urn:ietf:params:xml:ns:domain-1.0");
    let mutating = matches!(
        local(&cmd),
        "create" | "renew" | "update" | "transfer" | "delete"
    ) && !(local(&cmd) == "transfer" && cmd.attribute("op") == Some("query"));
    let lose = mutating && is_domain && std::mem::take(&mut s.lose_next);
    let name = txt(kid(obj, "name")).to_ascii_lowercase();
    let t = now();

    let answer = match (local(&cmd), is_domain) {
        ("check", true) => {
            let cds: String = obj
                .children()
                .filter(|c| c.is_element() && local(c) == "name")
                .map(|c| {
                    let n = c.text().unwrap_or("").to_ascii_lowercase();
                    if s.domains.contains_key(&n) {
                        format!(r#"<domain:cd><domain:name avail="0">{n}</domain:name><domain:reason>In use</domain:reason></domain:cd>"#)
                    } else {
                        format!(r#"<domain:cd><domain:name avail="1">{n}</domain:name></domain:cd>"#)
                    }
                })
                .collect();
            ok(
                &format!("<domain:chkData {DOMAIN_NS}>{cds}</domain:chkData>"),
                "",
            )
        }
        ("create", false) => {
            let id = txt(kid(obj, "id"));
            if s.contacts.contains_key(&id) {
                return err(2302, "Object exists");
            }
            let pi = kid(obj, "postalInfo");
            let addr = pi.and_then(|p| kid(p, "addr"));
            let c = Con {
                name: txt(pi.and_then(|p| kid(p, "name"))),
                org: pi.and_then(|p| kid(p, "org")).map(|o| txt(Some(o))),
                street: addr
                    .map(|a| {
                        a.children()
                            .filter(|c| c.is_element() && local(c) == "street")
                            .map(|c| txt(Some(c)))
                            .collect()
                    })
                    .unwrap_or_default(),
                city: txt(addr.and_then(|a| kid(a, "city"))),
                sp: addr.and_then(|a| kid(a, "sp")).map(|x| txt(Some(x))),
                pc: addr.and_then(|a| kid(a, "pc")).map(|x| txt(Some(x))),
                cc: txt(addr.and_then(|a| kid(a, "cc"))),
                voice: txt(kid(obj, "voice")),
                email: txt(kid(obj, "email")),
                created: ts(t),
            };
            s.contacts.insert(id.clone(), c);
            ok(
                &format!(
                    "<contact:creData {CONTACT_NS}><contact:id>{id}</contact:id><contact:crDate>{}</contact:crDate></contact:creData>",
                    ts(t)
                ),
                "",
            )
        }
        ("info", false) => {
            let id = txt(kid(obj, "id"));
            let Some(c) = s.contacts.get(&id) else {
                return err(2303, "Object does not exist");
            };
            let streets: String = c
                .street
                .iter()
                .map(|x| format!("<contact:street>{}</contact:street>", esc(x)))
                .collect();
            let opt = |tag: &str, v: &Option<String>| {
                v.as_ref()
                    .map(|v| format!("<contact:{tag}>{}</contact:{tag}>", esc(v)))
                    .unwrap_or_default()
            };
            ok(
                &format!(
                    r#"<contact:infData {CONTACT_NS}><contact:id>{id}</contact:id><contact:roid>{id}-REP</contact:roid><contact:status s="linked"/><contact:postalInfo type="int"><contact:name>{}</contact:name>{}<contact:addr>{streets}<contact:city>{}</contact:city>{}{}<contact:cc>{}</contact:cc></contact:addr></contact:postalInfo><contact:voice>{}</contact:voice><contact:email>{}</contact:email><contact:clID>{me}</contact:clID><contact:crID>{me}</contact:crID><contact:crDate>{}</contact:crDate></contact:infData>"#,
                    esc(&c.name),
                    opt("org", &c.org),
                    esc(&c.city),
                    opt("sp", &c.sp),
                    opt("pc", &c.pc),
                    c.cc,
                    c.voice,
                    esc(&c.email),
                    c.created
                ),
                "",
            )
        }
        ("create", true) => {
            if !["com", "net", "org"].contains(&name.rsplit('.').next().unwrap_or("")) {
                return err(2306, "Parameter value policy error: TLD not served");
            }
            if s.domains.contains_key(&name) {
                return err(2302, "Object exists");
            }
            let registrant = txt(kid(obj, "registrant"));
            let contacts: Vec<(String, String)> = obj
                .children()
                .filter(|c| c.is_element() && local(c) == "contact")
                .map(|c| (c.attribute("type").unwrap_or("").to_owned(), txt(Some(c))))
                .collect();
            if !s.contacts.contains_key(&registrant)
                || contacts.iter().any(|(_, id)| !s.contacts.contains_key(id))
            {
                return err(2303, "Object does not exist: contact");
            }
            let period = kid(obj, "period")
                .map(|p| txt(Some(p)).parse::<u32>().unwrap_or(1))
                .unwrap_or(1);
            let ns = kid(obj, "ns")
                .map(|n| {
                    n.children()
                        .filter(|c| c.is_element())
                        .map(|c| txt(Some(c)).to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default();
            let expires = t.checked_add_months(Months::new(12 * period)).unwrap();
            s.domains.insert(
                name.clone(),
                Dom {
                    roid: format!("{}-REP", name.len() * 1000 + s.domains.len()),
                    clid: me.clone(),
                    created: t,
                    expires,
                    ns,
                    statuses: BTreeSet::new(),
                    registrant,
                    contacts,
                    pw: txt(kid(obj, "authInfo").and_then(|a| kid(a, "pw"))),
                    transfer: None,
                    rgp: None,
                },
            );
            ok(
                &format!(
                    "<domain:creData {DOMAIN_NS}><domain:name>{name}</domain:name><domain:crDate>{}</domain:crDate><domain:exDate>{}</domain:exDate></domain:creData>",
                    ts(t),
                    ts(expires)
                ),
                "",
            )
        }
        ("info", true) => {
            let Some(d) = s.domains.get(&name) else {
                return err(2303, "Object does not exist");
            };
            let mut st: Vec<String> = d.statuses.iter().cloned().collect();
            if d.transfer.as_ref().is_some_and(|t| t.status == "pending") {
                st.push("pendingTransfer".into());
            }
            if d.rgp.is_some() {
                st.push("pendingDelete".into());
            }
            if st.is_empty() {
                st.push("ok".into());
            }
            let statuses: String = st
                .iter()
                .map(|x| format!(r#"<domain:status s="{x}"/>"#))
                .collect();
            if d.clid != me {
                // RFC 5731 §3.1.2: limited information for a non-sponsoring client.
                ok(
                    &format!(
                        "<domain:infData {DOMAIN_NS}><domain:name>{name}</domain:name><domain:roid>{}</domain:roid>{statuses}<domain:clID>{}</domain:clID></domain:infData>",
                        d.roid, d.clid
                    ),
                    "",
                )
            } else {
                let contacts: String = d
                    .contacts
                    .iter()
                    .map(|(ty, id)| format!(r#"<domain:contact type="{ty}">{id}</domain:contact>"#))
                    .collect();
                let ns: String = if d.ns.is_empty() {
                    String::new()
                } else {
                    format!(
                        "<domain:ns>{}</domain:ns>",
                        d.ns.iter()
                            .map(|n| format!("<domain:hostObj>{n}</domain:hostObj>"))
                            .collect::<String>()
                    )
                };
                let rgp = match &d.rgp {
                    Some(r) => r.clone(),
                    None if t - d.created < Duration::days(5) => "addPeriod".to_owned(),
                    None => String::new(),
                };
                let ext = if rgp.is_empty() {
                    String::new()
                } else {
                    format!(
                        r#"<rgp:infData xmlns:rgp="urn:ietf:params:xml:ns:rgp-1.0"><rgp:rgpStatus s="{rgp}"/></rgp:infData>"#
                    )
                };
                ok(
                    &format!(
                        "<domain:infData {DOMAIN_NS}><domain:name>{name}</domain:name><domain:roid>{}</domain:roid>{statuses}<domain:registrant>{}</domain:registrant>{contacts}{ns}<domain:clID>{}</domain:clID><domain:crID>{}</domain:crID><domain:crDate>{}</domain:crDate><domain:exDate>{}</domain:exDate><domain:authInfo><domain:pw>{}</domain:pw></domain:authInfo></domain:infData>",
                        d.roid,
                        d.registrant,
                        d.clid,
                        d.clid,
                        ts(d.created),
                        ts(d.expires),
                        esc(&d.pw)
                    ),
                    &ext,
                )
            }
        }
        ("renew", true) => {
            let Some(d) = s.domains.get_mut(&name) else {
                return err(2303, "Object does not exist");
            };
            if d.clid != me {
                return err(2201, "Authorization error");
            }
            let cur = NaiveDate::parse_from_str(&txt(kid(obj, "curExpDate")), "%Y-%m-%d").ok();
            if cur != Some(d.expires.date_naive()) {
                return err(
                    2306,
                    "Parameter value policy error: curExpDate does not match the expiry",
                );
            }
            let period = kid(obj, "period")
                .map(|p| txt(Some(p)).parse::<u32>().unwrap_or(1))
                .unwrap_or(1);
            d.expires = d
                .expires
                .checked_add_months(Months::new(12 * period))
                .unwrap();
            ok(
                &format!(
                    "<domain:renData {DOMAIN_NS}><domain:name>{name}</domain:name><domain:exDate>{}</domain:exDate></domain:renData>",
                    ts(d.expires)
                ),
                "",
            )
        }
        ("update", true) => {
            let restore = first
                .children()
                .find(|c| local(c) == "extension")
                .and_then(|e| {
                    e.descendants()
                        .find(|x| x.is_element() && local(x) == "restore")
                });
            let Some(d) = s.domains.get_mut(&name) else {
                return err(2303, "Object does not exist");
            };
            if d.clid != me {
                return err(2201, "Authorization error");
            }
            if restore.is_some() {
                if d.rgp.as_deref() != Some("redemptionPeriod") {
                    return err(
                        2105,
                        "Object is not eligible for renewal: not in redemption",
                    );
                }
                d.rgp = None;
                return (ok("", ""), lose, false);
            }
            for (section, add) in [("add", true), ("rem", false)] {
                let Some(sec) = kid(obj, section) else {
                    continue;
                };
                for c in sec.children().filter(|c| c.is_element()) {
                    match local(&c) {
                        "ns" => {
                            for h in c.children().filter(|h| h.is_element()) {
                                let h = txt(Some(h)).to_ascii_lowercase();
                                if add {
                                    d.ns.push(h);
                                } else {
                                    d.ns.retain(|x| *x != h);
                                }
                            }
                        }
                        "status" => {
                            let v = c.attribute("s").unwrap_or("").to_owned();
                            if add {
                                d.statuses.insert(v);
                            } else {
                                d.statuses.remove(&v);
                            }
                        }
                        "contact" => {
                            let pair = (c.attribute("type").unwrap_or("").to_owned(), txt(Some(c)));
                            if add {
                                d.contacts.push(pair);
                            } else {
                                d.contacts.retain(|x| *x != pair);
                            }
                        }
                        _ => {}
                    }
                }
            }
            if let Some(r) = kid(obj, "chg").and_then(|chg| kid(chg, "registrant")) {
                d.registrant = txt(Some(r));
            }
            ok("", "")
        }
        ("transfer", true) => {
            let op = cmd.attribute("op").unwrap_or("");
            let Some(d) = s.domains.get_mut(&name) else {
                return err(2303, "Object does not exist");
            };
            let trn = |d: &Dom, tr: &Transfer| {
                format!(
                    "<domain:trnData {DOMAIN_NS}><domain:name>{name}</domain:name><domain:trStatus>{}</domain:trStatus><domain:reID>{}</domain:reID><domain:reDate>{}</domain:reDate><domain:acID>{}</domain:acID><domain:acDate>{}</domain:acDate><domain:exDate>{}</domain:exDate></domain:trnData>",
                    tr.status,
                    tr.re_id,
                    ts(tr.re_date),
                    tr.ac_id,
                    ts(tr.ac_date),
                    ts(d.expires)
                )
            };
            match op {
                "request" => {
                    if d.clid == me {
                        return err(
                            2106,
                            "Object is not eligible for transfer: already sponsored by you",
                        );
                    }
                    if d.statuses.contains("clientTransferProhibited") {
                        return err(2304, "Object status prohibits operation");
                    }
                    if d.transfer.as_ref().is_some_and(|t| t.status == "pending") {
                        return err(2300, "Object pending transfer");
                    }
                    if txt(kid(obj, "authInfo").and_then(|a| kid(a, "pw"))) != d.pw {
                        return err(2202, "Invalid authorization information");
                    }
                    let years = kid(obj, "period")
                        .map(|p| txt(Some(p)).parse::<u32>().unwrap_or(1))
                        .unwrap_or(1);
                    let tr = Transfer {
                        status: "pending".into(),
                        re_id: me.clone(),
                        re_date: t,
                        ac_id: d.clid.clone(),
                        ac_date: t + Duration::days(5),
                        years,
                    };
                    d.transfer = Some(tr.clone());
                    let body = trn(d, &tr);
                    response(
                        1001,
                        "Command completed successfully; action pending",
                        &body,
                        "",
                        &cltrid,
                    )
                }
                "query" => match d.transfer.clone() {
                    Some(tr) => ok(&trn(d, &tr), ""),
                    None => return err(2301, "Object not pending transfer"),
                },
                _ => return err(2102, "Unimplemented option"),
            }
        }
        _ => return err(2101, "Unimplemented command"),
    };
    (answer, lose, false)
}

impl EppServer {
    /// A domain sponsored by another registrar, with its auth code.
    pub fn plant_foreign(&self, name: &str, pw: &str) {
        let t = now();
        self.state.lock().unwrap().domains.insert(
            name.to_owned(),
            Dom {
                roid: format!("F{}-REP", name.len()),
                clid: OTHER.into(),
                created: t - Duration::days(400),
                expires: t + Duration::days(200),
                ns: vec![],
                statuses: BTreeSet::new(),
                registrant: "other-1".into(),
                contacts: vec![],
                pw: pw.to_owned(),
                transfer: None,
                rgp: None,
            },
        );
    }

    /// The losing registrar approves the pending transfer.
    pub fn approve_transfer(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        if let Some(d) = s.domains.get_mut(name)
            && let Some(tr) = d.transfer.as_mut()
            && tr.status == "pending"
        {
            tr.status = "clientApproved".into();
            tr.ac_date = now();
            d.clid = tr.re_id.clone();
            d.expires = d
                .expires
                .checked_add_months(Months::new(12 * tr.years))
                .unwrap();
        }
    }

    /// A domain of ours that was deleted and is in redemption.
    pub fn plant_in_redemption(&self, name: &str, contact: &str) {
        let t = now();
        let mut s = self.state.lock().unwrap();
        s.contacts.entry(contact.to_owned()).or_insert_with(|| Con {
            name: "Ann Example".into(),
            street: vec!["1 High Street".into()],
            city: "London".into(),
            cc: "GB".into(),
            voice: "+44.2079460000".into(),
            email: "ann@example.com".into(),
            created: ts(t),
            ..Con::default()
        });
        s.domains.insert(
            name.to_owned(),
            Dom {
                roid: format!("R{}-REP", name.len()),
                clid: CLIENT_ID.into(),
                created: t - Duration::days(800),
                expires: t - Duration::days(50),
                ns: vec![],
                statuses: BTreeSet::new(),
                registrant: contact.to_owned(),
                contacts: vec![
                    ("admin".into(), contact.into()),
                    ("tech".into(), contact.into()),
                    ("billing".into(), contact.into()),
                ],
                pw: "Red3mption-pw".into(),
                transfer: None,
                rgp: Some("redemptionPeriod".into()),
            },
        );
    }

    pub fn frames(&self) -> Vec<(String, bool)> {
        self.state.lock().unwrap().frames.clone()
    }

    pub fn invalid_frames(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().invalid.clone()
    }

    pub fn invalid_answers(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().invalid_answers.clone()
    }
}
