//! WHOIS contacts: the registrant, admin, tech and billing contacts of a domain.
//!
//! [`ContactData`] is contact data as it arrives (from a form, the API, or a registrar's
//! answer): plain fields, nothing checked. [`Contact`] is the same data once
//! [`Contact::parse`] accepted it: required fields present, the country an ISO 3166-1
//! alpha-2 code, the phone in E.164 as EPP wants it (`+CC.NUMBER`), the e-mail well-formed.
//! Every refusal names its field (`phone`, `country`, …), all of them at once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::validate::{self, Checker, FieldError, ValidationError};

/// Which role a contact plays for a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactRole {
    Registrant,
    Admin,
    Tech,
    Billing,
}

impl ContactRole {
    pub const ALL: [ContactRole; 4] = [
        ContactRole::Registrant,
        ContactRole::Admin,
        ContactRole::Tech,
        ContactRole::Billing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactRole::Registrant => "registrant",
            ContactRole::Admin => "admin",
            ContactRole::Tech => "tech",
            ContactRole::Billing => "billing",
        }
    }
}

/// ISO 3166-1 alpha-2 codes (officially assigned).
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// An ISO 3166-1 alpha-2 country code, uppercase (`GB`, `DE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let v = value.trim().to_ascii_uppercase();
        let bad = || {
            ValidationError::field(
                "",
                "country",
                format!(
                    "`{}` is not an ISO 3166-1 alpha-2 country code; use two letters like GB, DE or US",
                    value.trim().chars().take(20).collect::<String>()
                ),
            )
        };
        if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad());
        }
        if !ISO_3166_ALPHA2.split(' ').any(|c| c == v) {
            return Err(bad());
        }
        let b = v.as_bytes();
        Ok(Self([b[0], b[1]]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// ITU country calling codes of one and two digits; every other code has three digits
/// (the codes are prefix-free, so this decides the split of `+442079460000`).
const SHORT_CALLING_CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// A telephone number in E.164 form, written as EPP wants it: `+CC.NUMBER` (`+44.2079460000`),
/// with an optional extension.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    country_code: String,
    number: String,
    extension: Option<String>,
}

impl Phone {
    /// Accepts `+44.2079460000`, `+44 20 7946 0000`, `+1-202-555-0100`, `+442079460000`,
    /// with an optional extension after `x` or `ext`.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let v = value.trim();
        let bad = |why: &str| {
            ValidationError::field(
                "",
                "phone",
                format!(
                    "`{}` is not an international phone number: {why}; write it as +CC.NUMBER, like +44.2079460000",
                    v.chars().take(40).collect::<String>()
                ),
            )
        };
        let Some(rest) = v.strip_prefix('+') else {
            return Err(bad("it must start with + and the country calling code"));
        };
        let lower = rest.to_ascii_lowercase();
        let (main, extension) = match lower.split_once("ext").or_else(|| lower.split_once('x')) {
            Some((m, e)) => {
                let e = e.trim_start_matches(['.', ':', ' ']).trim();
                if e.is_empty() || e.len() > 10 || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the extension must be 1 to 10 digits"));
                }
                (m.trim().to_owned(), Some(e.to_owned()))
            }
            None => (lower.clone(), None),
        };
        if let Some(c) = main
            .chars()
            .find(|c| !(c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')')))
        {
            return Err(bad(&format!("it contains `{}`", c.escape_default())));
        }
        let (cc, number) = if let Some((cc, n)) = main.split_once('.') {
            (cc.trim().to_owned(), digits(n))
        } else if let Some(i) = main.find([' ', '-', '(']) {
            (main[..i].trim().to_owned(), digits(&main[i..]))
        } else {
            let all = digits(&main);
            let cut = if SHORT_CALLING_CODES.iter().any(|c| all.starts_with(c)) {
                SHORT_CALLING_CODES
                    .iter()
                    .filter(|c| all.starts_with(*c))
                    .map(|c| c.len())
                    .max()
                    .unwrap_or(3)
            } else {
                3
            };
            if all.len() <= cut {
                return Err(bad("the number after the country code is missing"));
            }
            (all[..cut].to_owned(), all[cut..].to_owned())
        };
        if cc.is_empty()
            || cc.len() > 3
            || !cc.bytes().all(|b| b.is_ascii_digit())
            || cc.starts_with('0')
        {
            return Err(bad("the country calling code must be 1 to 3 digits"));
        }
        if number.len() < 4 {
            return Err(bad("the subscriber number is too short"));
        }
        if cc.len() + number.len() > 15 {
            return Err(bad("E.164 numbers have at most 15 digits"));
        }
        Ok(Self {
            country_code: cc,
            number,
            extension,
        })
    }

    /// `+CC.NUMBER`, without the extension (EPP's `e164StringType`).
    pub fn e164(&self) -> String {
        format!("+{}.{}", self.country_code, self.number)
    }

    pub fn country_code(&self) -> &str {
        &self.country_code
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_digit()).collect()
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}.{}", self.country_code, self.number)?;
        if let Some(x) = &self.extension {
            write!(f, " x{x}")?;
        }
        Ok(())
    }
}

/// Contact data as it arrives: from a person, the API, or a registrar's answer. Nothing
/// here is checked; [`Contact::parse`] checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactData {
    pub first_name: String,
    pub last_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    pub email: String,
    /// `+CC.NUMBER`, e.g. `+44.2079460000`.
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fax: Option<String>,
    pub address1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `GB`.
    pub country: String,
}

/// Fields a registry requires beyond the always-required ones (names, e-mail, phone,
/// street, city, country), as a registrar states them per TLD.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRequirements {
    pub organization: bool,
    pub state_province: bool,
    pub postal_code: bool,
    pub fax: bool,
}

/// A validated WHOIS contact. Its fields are normalised (trimmed; the phone in `+CC.NUMBER`
/// form; the country uppercase) and read through [`Contact::data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    data: ContactData,
    country: CountryCode,
    phone: Phone,
}

impl Contact {
    /// Checks contact data and answers every problem at once, each naming its field.
    pub fn parse(input: ContactData) -> Result<Self, ValidationError> {
        let mut c = Checker::new();
        let first_name = c.take("first_name", validate::text(&input.first_name, 64));
        let last_name = c.take("last_name", validate::text(&input.last_name, 64));
        let organization = c.take(
            "organization",
            validate::optional_text(input.organization.as_deref(), 255),
        );
        let email = c.take("email", validate::email(&input.email));
        let phone = c.take("phone", Phone::parse(&input.phone));
        let fax = match input.fax.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(f) => c.take("fax", Phone::parse(f)).map(Some),
        };
        let address1 = c.take("address1", validate::text(&input.address1, 255));
        let address2 = c.take(
            "address2",
            validate::optional_text(input.address2.as_deref(), 255),
        );
        let city = c.take("city", validate::text(&input.city, 255));
        let state = c.take(
            "state_province",
            validate::optional_text(input.state_province.as_deref(), 255),
        );
        let postal = c.take(
            "postal_code",
            validate::optional_text(input.postal_code.as_deref(), 16),
        );
        let country = c.take("country", CountryCode::parse(&input.country));
        c.finish()?;
        let (
            Some(first_name),
            Some(last_name),
            Some(organization),
            Some(email),
            Some(phone),
            Some(fax),
            Some(address1),
            Some(address2),
            Some(city),
            Some(state),
            Some(postal),
            Some(country),
        ) = (
            first_name,
            last_name,
            organization,
            email,
            phone,
            fax,
            address1,
            address2,
            city,
            state,
            postal,
            country,
        )
        else {
            return Err(ValidationError::field(
                "",
                "invalid",
                "the contact could not be checked",
            ));
        };
        Ok(Self {
            data: ContactData {
                first_name,
                last_name,
                organization,
                email,
                phone: phone.e164(),
                fax: fax.map(|f| f.e164()),
                address1,
                address2,
                city,
                state_province: state,
                postal_code: postal,
                country: country.to_string(),
            },
            country,
            phone,
        })
    }

    /// Checks the fields a registry requires for a TLD.
    pub fn check_requirements(&self, req: &ContactRequirements) -> Result<(), ValidationError> {
        let mut errors = Vec::new();
        let mut need = |present: bool, field: &str, label: &str| {
            if !present {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("the registry requires the {label} for this TLD"),
                ));
            }
        };
        need(
            !req.organization || self.data.organization.is_some(),
            "organization",
            "organisation",
        );
        need(
            !req.state_province || self.data.state_province.is_some(),
            "state_province",
            "state or province",
        );
        need(
            !req.postal_code || self.data.postal_code.is_some(),
            "postal_code",
            "postal code",
        );
        need(!req.fax || self.data.fax.is_some(), "fax", "fax number");
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(errors))
        }
    }

    pub fn data(&self) -> &ContactData {
        &self.data
    }

    pub fn into_data(self) -> ContactData {
        self.data
    }

    pub fn country(&self) -> CountryCode {
        self.country
    }

    pub fn phone(&self) -> &Phone {
        &self.phone
    }

    /// `First Last`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.data.first_name, self.data.last_name)
    }
}

impl std::ops::Deref for Contact {
    type Target = ContactData;
    fn deref(&self) -> &ContactData {
        &self.data
    }
}

impl Serialize for Contact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Contact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let data = ContactData::deserialize(d)?;
        Self::parse(data).map_err(serde::de::Error::custom)
    }
}

/// The four WHOIS contacts of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainContacts<C = Contact> {
    pub registrant: C,
    pub admin: C,
    pub tech: C,
    pub billing: C,
}

impl<C: Clone> DomainContacts<C> {
    /// One contact in all four roles, as most individual registrants have it.
    pub fn all(contact: C) -> Self {
        Self {
            registrant: contact.clone(),
            admin: contact.clone(),
            tech: contact.clone(),
            billing: contact,
        }
    }

    pub fn get(&self, role: ContactRole) -> &C {
        match role {
            ContactRole::Registrant => &self.registrant,
            ContactRole::Admin => &self.admin,
            ContactRole::Tech => &self.tech,
            ContactRole::Billing => &self.billing,
        }
    }

    pub fn map<D>(&self, f: impl Fn(&C) -> D) -> DomainContacts<D> {
        DomainContacts {
            registrant: f(&self.registrant),
            admin: f(&self.admin),
            tech: f(&self.tech),
            billing: f(&self.billing),
        }
    }
}

impl DomainContacts<ContactData> {
    /// Checks all four contacts; errors are nested under the role (`admin.phone`).
    pub fn parse(self) -> Result<DomainContacts<Contact>, ValidationError> {
        let mut c = Checker::new();
        let registrant = c.take("registrant", Contact::parse(self.registrant));
        let admin = c.take("admin", Contact::parse(self.admin));
        let tech = c.take("tech", Contact::parse(self.tech));
        let billing = c.take("billing", Contact::parse(self.billing));
        c.finish()?;
        match (registrant, admin, tech, billing) {
            (Some(registrant), Some(admin), Some(tech), Some(billing)) => Ok(DomainContacts {
                registrant,
                admin,
                tech,
                billing,
            }),
            _ => Err(ValidationError::field(
                "",
                "invalid",
                "the contacts could not be checked",
            )),
        }
    }
}

impl DomainContacts<Contact> {
    pub fn to_data(&self) -> DomainContacts<ContactData> {
        self.map(|c| c.data().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ann() -> ContactData {
        ContactData {
            first_name: " Ann ".into(),
            last_name: "Example".into(),
            organization: Some("".into()),
            email: "ann@Example.COM".into(),
            phone: "+44 20 7946 0000".into(),
            fax: None,
            address1: "1 High Street".into(),
            address2: None,
            city: "London".into(),
            state_province: None,
            postal_code: Some("SW1A 1AA".into()),
            country: "gb".into(),
        }
    }

    #[test]
    fn a_good_contact_is_normalised() {
        let c = Contact::parse(ann()).unwrap();
        assert_eq!(c.first_name, "Ann");
        assert_eq!(c.organization, None);
        assert_eq!(c.email, "ann@example.com");
        assert_eq!(c.data().phone, "+44.2079460000");
        assert_eq!(c.data().country, "GB");
        assert_eq!(c.country().as_str(), "GB");
        assert_eq!(c.full_name(), "Ann Example");
        let json = serde_json::to_value(&c).unwrap();
        let back: Contact = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut d = ann();
        d.first_name = "".into();
        d.email = "not-an-email".into();
        d.phone = "020 7946 0000".into();
        d.country = "UK".into();
        d.city = " ".into();
        let e = Contact::parse(d).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["first_name", "email", "phone", "city", "country"]);
        let country = e.0.iter().find(|f| f.field == "country").unwrap();
        assert!(
            country.message.contains("ISO 3166-1"),
            "{}",
            country.message
        );
        let phone = e.0.iter().find(|f| f.field == "phone").unwrap();
        assert!(phone.message.contains("+CC.NUMBER"), "{}", phone.message);
    }

    #[test]
    fn phone_forms() {
        for (input, e164) in [
            ("+44.2079460000", "+44.2079460000"),
            ("+44 20 7946 0000", "+44.2079460000"),
            ("+442079460000", "+44.2079460000"),
            ("+1-202-555-0100", "+1.2025550100"),
            ("+12025550100", "+1.2025550100"),
            ("+353 1 234 5678", "+353.12345678"),
            ("+3531234567", "+353.1234567"),
            ("+49 (30) 1234567", "+49.301234567"),
        ] {
            assert_eq!(Phone::parse(input).unwrap().e164(), e164, "{input}");
        }
        let x = Phone::parse("+1.2025550100 x123").unwrap();
        assert_eq!(x.extension(), Some("123"));
        assert_eq!(x.to_string(), "+1.2025550100 x123");
        for bad in [
            "",
            "2025550100",
            "+",
            "+1",
            "+1.12",
            "+0.2025550100",
            "+1234.5678901",
            "+1.2025550100123456",
            "+44 20 abc",
            "+1.2025550100 xabc",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn countries() {
        assert_eq!(CountryCode::parse(" de ").unwrap().as_str(), "DE");
        for bad in ["UK", "EU", "XX", "GBR", "G", "1A", ""] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
    }

    #[test]
    fn registry_requirements_name_missing_fields() {
        let c = Contact::parse(ann()).unwrap();
        let req = ContactRequirements {
            organization: true,
            state_province: true,
            postal_code: true,
            fax: false,
        };
        let e = c.check_requirements(&req).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["organization", "state_province"]);
        c.check_requirements(&ContactRequirements::default())
            .unwrap();
    }

    #[test]
    fn domain_contacts_nest_errors_under_the_role() {
        let mut bad = ann();
        bad.phone = "nope".into();
        let set = DomainContacts {
            registrant: ann(),
            admin: bad,
            tech: ann(),
            billing: ann(),
        };
        let e = set.parse().unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert_eq!(e.0[0].field, "admin.phone");
        let ok = DomainContacts::all(ann()).parse().unwrap();
        assert_eq!(ok.get(ContactRole::Tech).email, "ann@example.com");
    }

    proptest! {
        #[test]
        fn phone_and_country_never_panic(s in "\\PC{0,60}") {
            let _ = Phone::parse(&s);
            let _ = CountryCode::parse(&s);
        }

        #[test]
        fn parsed_phones_fit_epp(s in "\\+[0-9 .()x-]{0,25}") {
            if let Ok(p) = Phone::parse(&s) {
                let e = p.e164();
                prop_assert!(e.len() <= 17);
                let (cc, n) = e[1..].split_once('.').unwrap();
                prop_assert!((1..=3).contains(&cc.len()));
                prop_assert!((1..=14).contains(&n.len()));
                prop_assert_eq!(Phone::parse(&e).unwrap().e164(), e.clone());
            }
        }
    }
}
