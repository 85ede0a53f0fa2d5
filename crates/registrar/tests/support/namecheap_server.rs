//! A local stand-in for Namecheap's XML API: it answers with the documented response
//! formats (the examples on Namecheap's method pages), keeps just enough state to be
//! consistent (domains, locks, privacy, nameservers, contacts, transfers), checks the global
//! parameters, and answers the documented error numbers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use chrono::{Months, NaiveDate, Utc};

pub const API_USER: &str = "apiexample";
pub const API_KEY: &str = "56b4c87ef4fd49cb96d915c0db68194";
pub const CLIENT_IP: &str = "192.0.2.109";

#[derive(Clone, Default)]
pub struct NcDomain {
    pub id: u64,
    pub created: Option<NaiveDate>,
    pub expires: Option<NaiveDate>,
    pub ns: Vec<String>,
    pub locked: bool,
    pub wg_enabled: bool,
    pub wg_id: u64,
    pub contacts: HashMap<String, String>,
}

pub struct NcTransfer {
    pub id: u64,
    pub name: String,
    pub code_ok: bool,
    pub done: bool,
}

#[derive(Default)]
pub struct NcState {
    pub domains: HashMap<String, NcDomain>,
    /// Registered elsewhere, with their EPP codes.
    pub foreign: HashMap<String, String>,
    pub transfers: Vec<NcTransfer>,
    /// Every form received, in order.
    pub requests: Vec<Vec<(String, String)>>,
    /// Apply the next mutating command, then answer only after the client gave up.
    pub lose_next: bool,
    /// Answer the next command with this documented error.
    pub next_error: Option<(String, String)>,
    pub balance: String,
    next_id: u64,
}

pub type Shared = Arc<Mutex<NcState>>;

pub struct NamecheapServer {
    pub url: String,
    pub state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NamecheapServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start() -> NamecheapServer {
    let state: Shared = Arc::new(Mutex::new(NcState {
        balance: "4932.9600".into(),
        next_id: 1000,
        ..NcState::default()
    }));
    let app = Router::new()
        .route("/xml.response", post(handle))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    NamecheapServer {
        url: format!("http://{addr}/xml.response"),
        state,
        task,
    }
}

fn envelope(command: &str, inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ApiResponse Status="OK" xmlns="http://api.namecheap.com/xml.response">
  <Errors />
  <Warnings />
  <RequestedCommand>{command}</RequestedCommand>
  <CommandResponse Type="{command}">
    {inner}
  </CommandResponse>
  <Server>PHX01SBAPIEXT05</Server>
  <GMTTimeDifference>--5:00</GMTTimeDifference>
  <ExecutionTime>0.011</ExecutionTime>
</ApiResponse>"#
    )
}

pub fn error_doc(command: &str, number: &str, message: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<ApiResponse Status="ERROR" xmlns="http://api.namecheap.com/xml.response">
  <Errors>
    <Error Number="{number}">{message}</Error>
  </Errors>
  <Warnings />
  <RequestedCommand>{command}</RequestedCommand>
  <Server>PHX01SBAPIEXT05</Server>
  <GMTTimeDifference>--5:00</GMTTimeDifference>
  <ExecutionTime>0.002</ExecutionTime>
</ApiResponse>"#
    )
}

fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%m/%d/%Y").to_string())
        .unwrap_or_default()
}

const SOLD: &[&str] = &["com", "net", "org"];

fn tld_of(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or("")
}

async fn handle(State(state): State<Shared>, Form(form): Form<Vec<(String, String)>>) -> String {
    let (body, lose) = {
        let mut s = state.lock().unwrap();
        s.requests.push(form.clone());
        answer(&mut s, &form)
    };
    if lose {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    body
}

fn answer(s: &mut NcState, form: &[(String, String)]) -> (String, bool) {
    let p = |k: &str| {
        form.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let command = p("Command");
    let cmd = command.to_ascii_lowercase();
    if p("ApiUser") != API_USER || p("UserName") != API_USER {
        return (
            error_doc(&command, "1011101", "Parameter APIUser is invalid"),
            false,
        );
    }
    if p("ApiKey") != API_KEY {
        return (
            error_doc(&command, "1011102", "Parameter APIKey is invalid"),
            false,
        );
    }
    if p("ClientIp") != CLIENT_IP {
        return (
            error_doc(&command, "1011150", "Parameter RequestIP is invalid"),
            false,
        );
    }
    if let Some((n, m)) = s.next_error.take() {
        return (error_doc(&command, &n, &m), false);
    }
    let mutating = matches!(
        cmd.as_str(),
        "namecheap.domains.create"
            | "namecheap.domains.renew"
            | "namecheap.domains.setcontacts"
            | "namecheap.domains.setregistrarlock"
            | "namecheap.domains.dns.setcustom"
            | "namecheap.domains.transfer.create"
            | "namecheap.whoisguard.enable"
            | "namecheap.whoisguard.disable"
    );
    let lose = mutating && std::mem::take(&mut s.lose_next);
    let today = Utc::now().date_naive();
    let name = p("DomainName").to_ascii_lowercase();
    let body = match cmd.as_str() {
        "namecheap.domains.check" => {
            let mut inner = String::new();
            for d in p("DomainList").split(',') {
                let d = d.trim().to_ascii_lowercase();
                let taken = s.domains.contains_key(&d) || s.foreign.contains_key(&d);
                inner.push_str(&format!(
                    r#"<DomainCheckResult Domain="{d}" Available="{}" ErrorNo="0" Description="" IsPremiumName="false" PremiumRegistrationPrice="0" PremiumRenewalPrice="0" PremiumRestorePrice="0" PremiumTransferPrice="0" IcannFee="0" EapFee="0"/>"#,
                    !taken
                ));
            }
            envelope(&command, &inner)
        }
        "namecheap.domains.create" => {
            if !SOLD.contains(&tld_of(&name)) {
                return (
                    error_doc(&command, "2030280", "TLD is not supported in API"),
                    false,
                );
            }
            if s.domains.contains_key(&name) || s.foreign.contains_key(&name) {
                return (
                    error_doc(&command, "2019166", "Domain not available"),
                    false,
                );
            }
            let years: u32 = p("Years").parse().unwrap_or(1);
            s.next_id += 1;
            let id = s.next_id;
            let mut contacts = HashMap::new();
            for (k, v) in form {
                for role in ["Registrant", "Tech", "Admin", "AuxBilling"] {
                    if k.starts_with(role) {
                        contacts.insert(k.clone(), v.clone());
                    }
                }
            }
            let wg = p("WGEnabled").eq_ignore_ascii_case("yes");
            s.domains.insert(
                name.clone(),
                NcDomain {
                    id,
                    created: Some(today),
                    expires: today.checked_add_months(Months::new(12 * years)),
                    ns: p("Nameservers")
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    locked: false,
                    wg_enabled: wg,
                    wg_id: id + 500_000,
                    contacts,
                },
            );
            envelope(
                &command,
                &format!(
                    r#"<DomainCreateResult Domain="{name}" Registered="true" ChargedAmount="20.8700" DomainID="{id}" OrderID="{}" TransactionID="{}" WhoisguardEnable="{wg}" FreePositiveSSL="false" NonRealTimeDomain="false" />"#,
                    id + 7,
                    id + 9
                ),
            )
        }
        "namecheap.domains.renew" => {
            let Some(d) = s.domains.get_mut(&name) else {
                return (
                    error_doc(
                        &command,
                        "2016166",
                        "Domain is not associated with your account",
                    ),
                    false,
                );
            };
            let years: u32 = p("Years").parse().unwrap_or(1);
            d.expires = d
                .expires
                .and_then(|e| e.checked_add_months(Months::new(12 * years)));
            let exp = d.expires.unwrap();
            envelope(
                &command,
                &format!(
                    r#"<DomainRenewResult DomainName="{name}" DomainID="{}" Renew="true" OrderID="109116" TransactionID="119569" ChargedAmount="13.1800">
      <DomainDetails>
        <ExpiredDate>{} 11:31:13 AM</ExpiredDate>
        <NumYears>0</NumYears>
      </DomainDetails>
    </DomainRenewResult>"#,
                    d.id,
                    exp.format("%-m/%-d/%Y")
                ),
            )
        }
        "namecheap.domains.getinfo" => {
            if s.foreign.contains_key(&name) {
                return (error_doc(&command, "2019166", "Domain not found"), false);
            }
            let Some(d) = s.domains.get(&name) else {
                return (error_doc(&command, "2019166", "Domain not found"), false);
            };
            envelope(
                &command,
                &format!(
                    r#"<DomainGetInfoResult Status="Ok" ID="{}" DomainName="{name}" OwnerName="{API_USER}" IsOwner="true" IsPremium="false">
      <DomainDetails>
        <CreatedDate>{}</CreatedDate>
        <ExpiredDate>{}</ExpiredDate>
      </DomainDetails>
      <LockDetails />
      <Whoisguard Enabled="{}">
        <ID>{}</ID>
        <ExpiredDate>{}</ExpiredDate>
      </Whoisguard>
      <DnsDetails ProviderType="CUSTOM" />
      <Modificationrights All="true" />
    </DomainGetInfoResult>"#,
                    d.id,
                    date(d.created),
                    date(d.expires),
                    if d.wg_enabled { "True" } else { "False" },
                    d.wg_id,
                    date(d.expires)
                ),
            )
        }
        "namecheap.domains.getregistrarlock" => match s.domains.get(&name) {
            Some(d) => envelope(
                &command,
                &format!(
                    r#"<DomainGetRegistrarLockResult Domain="{name}" RegistrarLockStatus="{}" />"#,
                    d.locked
                ),
            ),
            None => error_doc(&command, "2019166", "Domain not found"),
        },
        "namecheap.domains.setregistrarlock" => match s.domains.get_mut(&name) {
            Some(d) => {
                d.locked = p("LockAction").eq_ignore_ascii_case("LOCK");
                envelope(
                    &command,
                    &format!(
                        r#"<DomainSetRegistrarLockResult Domain="{name}" IsSuccess="true" />"#
                    ),
                )
            }
            None => error_doc(&command, "2019166", "Domain not found"),
        },
        "namecheap.domains.dns.getlist" | "namecheap.domains.dns.setcustom" => {
            let full = format!("{}.{}", p("SLD"), p("TLD")).to_ascii_lowercase();
            let Some(d) = s.domains.get_mut(&full) else {
                return (error_doc(&command, "2019166", "Domain not found"), false);
            };
            if cmd.ends_with("setcustom") {
                d.ns = p("Nameservers").split(',').map(str::to_owned).collect();
                envelope(
                    &command,
                    &format!(r#"<DomainDNSSetCustomResult Domain="{full}" Updated="true" />"#),
                )
            } else {
                let ns: String =
                    d.ns.iter()
                        .map(|n| format!("<Nameserver>{n}</Nameserver>"))
                        .collect();
                envelope(
                    &command,
                    &format!(
                        r#"<DomainDNSGetListResult Domain="{full}" IsUsingOurDNS="false">{ns}</DomainDNSGetListResult>"#
                    ),
                )
            }
        }
        "namecheap.domains.getcontacts" => {
            let Some(d) = s.domains.get(&name) else {
                return (error_doc(&command, "2019166", "Domain not found"), false);
            };
            let mut inner = format!(
                r#"<DomainContactsResult Domain="{name}" domainnameid="{}">"#,
                d.id
            );
            for role in ["Registrant", "Tech", "Admin", "AuxBilling"] {
                let f = |field: &str| {
                    d.contacts
                        .get(&format!("{role}{field}"))
                        .cloned()
                        .unwrap_or_default()
                };
                inner.push_str(&format!(
                    r#"<{role} ReadOnly="false"><OrganizationName>{}</OrganizationName><JobTitle /><FirstName>{}</FirstName><LastName>{}</LastName><Address1>{}</Address1><Address2>{}</Address2><City>{}</City><StateProvince>{}</StateProvince><StateProvinceChoice>S</StateProvinceChoice><PostalCode>{}</PostalCode><Country>{}</Country><Phone>{}</Phone><Fax>{}</Fax><EmailAddress>{}</EmailAddress><PhoneExt /></{role}>"#,
                    f("OrganizationName"), f("FirstName"), f("LastName"), f("Address1"), f("Address2"), f("City"),
                    f("StateProvince"), f("PostalCode"), f("Country"), f("Phone"), f("Fax"), f("EmailAddress")
                ));
            }
            inner.push_str("<WhoisGuardContact /></DomainContactsResult>");
            envelope(&command, &inner)
        }
        "namecheap.domains.setcontacts" => {
            let Some(d) = s.domains.get_mut(&name) else {
                return (error_doc(&command, "2019166", "Domain not found"), false);
            };
            d.contacts.clear();
            for (k, v) in form {
                for role in ["Registrant", "Tech", "Admin", "AuxBilling"] {
                    if k.starts_with(role) {
                        d.contacts.insert(k.clone(), v.clone());
                    }
                }
            }
            envelope(
                &command,
                &format!(r#"<DomainSetContactResult Domain="{name}" IsSuccess="true" />"#),
            )
        }
        "namecheap.whoisguard.enable" | "namecheap.whoisguard.disable" => {
            let id: u64 = p("WhoisguardID").parse().unwrap_or(0);
            let enable = cmd.ends_with("enable");
            if enable && p("ForwardedToEmail").is_empty() {
                return (
                    error_doc(&command, "2010100", "Parameter ForwardedToEmail is missing"),
                    false,
                );
            }
            let Some((dn, d)) = s.domains.iter_mut().find(|(_, d)| d.wg_id == id) else {
                return (
                    error_doc(
                        &command,
                        "2011331",
                        "WhoisGuard is not associated with this user",
                    ),
                    false,
                );
            };
            d.wg_enabled = enable;
            let tag = if enable {
                "WhoisguardEnableResult"
            } else {
                "WhoisguardDisableResult"
            };
            envelope(
                &command,
                &format!(r#"<{tag} DomainName="{dn}" IsSuccess="true" />"#),
            )
        }
        "namecheap.domains.transfer.create" => {
            if !SOLD.contains(&tld_of(&name)) {
                return (
                    error_doc(&command, "2030280", "TLD is not supported in API"),
                    false,
                );
            }
            s.next_id += 1;
            let id = s.next_id;
            let code_ok = s.foreign.get(&name).is_some_and(|c| *c == p("EPPCode"));
            s.transfers.push(NcTransfer {
                id,
                name: name.clone(),
                code_ok,
                done: false,
            });
            envelope(
                &command,
                &format!(
                    r#"<DomainTransferCreateResult DomainName="{name}" Transfer="true" TransferID="{id}" StatusID="-1" OrderID="{}" TransactionID="{}" ChargedAmount="9.5800" />"#,
                    id + 3,
                    id + 4
                ),
            )
        }
        "namecheap.domains.transfer.getlist" => {
            let term = p("SearchTerm").to_ascii_lowercase();
            let items: String = s
                .transfers
                .iter()
                .filter(|t| t.name.contains(&term))
                .map(|t| format!(r#"<Transfer ID="{}" DomainName="{}" User="{API_USER}" TransferDate="{}" OrderID="{}" StatusID="-1" Status="Queued for submission" StatusDate="{}" StatusDescription="" />"#, t.id, t.name, date(Some(today)), t.id + 3, date(Some(today))))
                .collect();
            envelope(
                &command,
                &format!(
                    "<TransferGetListResult>{items}</TransferGetListResult><Paging><TotalItems>1</TotalItems><CurrentPage>1</CurrentPage><PageSize>20</PageSize></Paging>"
                ),
            )
        }
        "namecheap.domains.transfer.getstatus" => {
            let id: u64 = p("TransferID").parse().unwrap_or(0);
            let Some(t) = s.transfers.iter().find(|t| t.id == id) else {
                return (
                    error_doc(&command, "4019329", "TransferStatus not available"),
                    false,
                );
            };
            let (sid, status) = if !t.code_ok {
                ("18", "Canceled - domain validation string is invalid")
            } else if t.done {
                ("5", "Transferred and paid successfully")
            } else {
                ("-1", "Queued for submission")
            };
            envelope(
                &command,
                &format!(
                    r#"<DomainTransferGetStatusResult TransferID="{id}" Status="{status}" StatusID="{sid}" />"#
                ),
            )
        }
        "namecheap.domains.getlist" => {
            let page: usize = p("Page").parse().unwrap_or(1);
            let size: usize = p("PageSize").parse().unwrap_or(20);
            let mut names: Vec<&String> = s.domains.keys().collect();
            names.sort();
            let items: String = names
                .iter()
                .skip((page - 1) * size)
                .take(size)
                .map(|n| {
                    let d = &s.domains[*n];
                    format!(
                        r#"<Domain ID="{}" Name="{n}" User="{API_USER}" Created="{}" Expires="{}" IsExpired="false" IsLocked="{}" AutoRenew="false" WhoisGuard="{}" IsPremium="false" IsOurDNS="false"/>"#,
                        d.id,
                        date(d.created),
                        date(d.expires),
                        d.locked,
                        if d.wg_enabled { "ENABLED" } else { "NOTPRESENT" }
                    )
                })
                .collect();
            envelope(
                &command,
                &format!(
                    "<DomainGetListResult>{items}</DomainGetListResult><Paging><TotalItems>{}</TotalItems><CurrentPage>{page}</CurrentPage><PageSize>{size}</PageSize></Paging>",
                    names.len()
                ),
            )
        }
        "namecheap.users.getbalances" => envelope(
            &command,
            &format!(
                r#"<UserGetBalancesResult Currency="USD" AvailableBalance="{b}" AccountBalance="{b}" EarnedAmount="381.70" WithdrawableAmount="0.00" FundsRequiredForAutoRenew="0.00" />"#,
                b = s.balance
            ),
        ),
        _ => error_doc(&command, "1011104", "Parameter Command is invalid"),
    };
    (body, lose)
}

impl NamecheapServer {
    /// A domain registered elsewhere, transferable with `code`.
    pub fn plant_foreign(&self, name: &str, code: &str) {
        self.state
            .lock()
            .unwrap()
            .foreign
            .insert(name.to_owned(), code.to_owned());
    }

    /// The losing registrar releases every transfer of `name` with a valid code.
    pub fn complete_transfer(&self, name: &str) {
        let mut s = self.state.lock().unwrap();
        let mut moved = false;
        for t in s
            .transfers
            .iter_mut()
            .filter(|t| t.name == name && t.code_ok)
        {
            t.done = true;
            moved = true;
        }
        if moved {
            s.foreign.remove(name);
            let today = Utc::now().date_naive();
            s.next_id += 1;
            let id = s.next_id;
            s.domains.insert(
                name.to_owned(),
                NcDomain {
                    id,
                    created: Some(today),
                    expires: today.checked_add_months(Months::new(12)),
                    wg_id: id + 500_000,
                    ..NcDomain::default()
                },
            );
        }
    }

    pub fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn fail_next(&self, number: &str, message: &str) {
        self.state.lock().unwrap().next_error = Some((number.into(), message.into()));
    }
}
