//! The life of a domain: Panel1's own state, kept next to the registry's truth.
//!
//! - [`EppStatus`]: the status values of RFC 5731 §2.3, as a registry reports them.
//! - [`RgpStatus`]: the grace-period states of RFC 3915 §3.
//! - [`DomainState`]: what Panel1 makes of a domain (pending registration, active, in
//!   redemption, suspended, …), changed only by [`DomainState::apply`] with a
//!   [`DomainEvent`]: explicit transitions, a typed [`TransitionError`] for the rest.
//! - [`derive_state`]: Panel1's state from what a registrar reports (statuses, RGP states,
//!   expiry), for sync and for import.
//! - [`GracePeriods`] and [`registry_phase`]: the clock of the generic gTLD lifecycle
//!   (auto-renew grace, redemption, pending delete), used by the sandbox registry.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// An EPP domain status (RFC 5731 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EppStatus {
    #[serde(rename = "ok")]
    Ok,
    #[serde(rename = "inactive")]
    Inactive,
    #[serde(rename = "clientDeleteProhibited")]
    ClientDeleteProhibited,
    #[serde(rename = "clientHold")]
    ClientHold,
    #[serde(rename = "clientRenewProhibited")]
    ClientRenewProhibited,
    #[serde(rename = "clientTransferProhibited")]
    ClientTransferProhibited,
    #[serde(rename = "clientUpdateProhibited")]
    ClientUpdateProhibited,
    #[serde(rename = "pendingCreate")]
    PendingCreate,
    #[serde(rename = "pendingDelete")]
    PendingDelete,
    #[serde(rename = "pendingRenew")]
    PendingRenew,
    #[serde(rename = "pendingTransfer")]
    PendingTransfer,
    #[serde(rename = "pendingUpdate")]
    PendingUpdate,
    #[serde(rename = "serverDeleteProhibited")]
    ServerDeleteProhibited,
    #[serde(rename = "serverHold")]
    ServerHold,
    #[serde(rename = "serverRenewProhibited")]
    ServerRenewProhibited,
    #[serde(rename = "serverTransferProhibited")]
    ServerTransferProhibited,
    #[serde(rename = "serverUpdateProhibited")]
    ServerUpdateProhibited,
}

impl EppStatus {
    pub const ALL: [EppStatus; 17] = [
        EppStatus::Ok,
        EppStatus::Inactive,
        EppStatus::ClientDeleteProhibited,
        EppStatus::ClientHold,
        EppStatus::ClientRenewProhibited,
        EppStatus::ClientTransferProhibited,
        EppStatus::ClientUpdateProhibited,
        EppStatus::PendingCreate,
        EppStatus::PendingDelete,
        EppStatus::PendingRenew,
        EppStatus::PendingTransfer,
        EppStatus::PendingUpdate,
        EppStatus::ServerDeleteProhibited,
        EppStatus::ServerHold,
        EppStatus::ServerRenewProhibited,
        EppStatus::ServerTransferProhibited,
        EppStatus::ServerUpdateProhibited,
    ];

    /// The RFC spelling (`clientTransferProhibited`).
    pub fn as_str(self) -> &'static str {
        match self {
            EppStatus::Ok => "ok",
            EppStatus::Inactive => "inactive",
            EppStatus::ClientDeleteProhibited => "clientDeleteProhibited",
            EppStatus::ClientHold => "clientHold",
            EppStatus::ClientRenewProhibited => "clientRenewProhibited",
            EppStatus::ClientTransferProhibited => "clientTransferProhibited",
            EppStatus::ClientUpdateProhibited => "clientUpdateProhibited",
            EppStatus::PendingCreate => "pendingCreate",
            EppStatus::PendingDelete => "pendingDelete",
            EppStatus::PendingRenew => "pendingRenew",
            EppStatus::PendingTransfer => "pendingTransfer",
            EppStatus::PendingUpdate => "pendingUpdate",
            EppStatus::ServerDeleteProhibited => "serverDeleteProhibited",
            EppStatus::ServerHold => "serverHold",
            EppStatus::ServerRenewProhibited => "serverRenewProhibited",
            EppStatus::ServerTransferProhibited => "serverTransferProhibited",
            EppStatus::ServerUpdateProhibited => "serverUpdateProhibited",
        }
    }

    /// Parses the RFC spelling; also accepts the case-insensitive forms some registrars
    /// answer (`CLIENTTRANSFERPROHIBITED`, `clienttransferprohibited`).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the status stops the domain from resolving.
    pub fn is_hold(self) -> bool {
        matches!(self, EppStatus::ClientHold | EppStatus::ServerHold)
    }
}

impl fmt::Display for EppStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A registry grace period state (RFC 3915 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RgpStatus {
    AddPeriod,
    AutoRenewPeriod,
    RenewPeriod,
    TransferPeriod,
    RedemptionPeriod,
    PendingRestore,
    PendingDelete,
}

impl RgpStatus {
    pub const ALL: [RgpStatus; 7] = [
        RgpStatus::AddPeriod,
        RgpStatus::AutoRenewPeriod,
        RgpStatus::RenewPeriod,
        RgpStatus::TransferPeriod,
        RgpStatus::RedemptionPeriod,
        RgpStatus::PendingRestore,
        RgpStatus::PendingDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RgpStatus::AddPeriod => "addPeriod",
            RgpStatus::AutoRenewPeriod => "autoRenewPeriod",
            RgpStatus::RenewPeriod => "renewPeriod",
            RgpStatus::TransferPeriod => "transferPeriod",
            RgpStatus::RedemptionPeriod => "redemptionPeriod",
            RgpStatus::PendingRestore => "pendingRestore",
            RgpStatus::PendingDelete => "pendingDelete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RgpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Panel1's own state of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DomainState {
    /// Ordered; the registration has not been confirmed by the registrar yet.
    PendingRegistration,
    /// Registered in this account and not expired.
    Active,
    /// Past its expiry date, and the registrar does not (yet) report a grace state.
    Expired,
    /// Past expiry, in the registry's auto-renew grace period: renewable at the renew price.
    AutoRenewGrace,
    /// Deleted at the registry and in redemption: only a restore brings it back.
    Redemption,
    /// Past redemption, about to be released; nothing can bring it back.
    PendingDelete,
    /// A transfer into this account was requested and is not finished.
    PendingTransferIn,
    /// Now sponsored by another registrar or account.
    TransferredAway,
    /// Held by Panel1 (abuse, non-payment): the registry hold status is set.
    Suspended,
    /// Ended: the order was refused or withdrawn, or the name was released.
    Cancelled,
}

impl DomainState {
    pub const ALL: [DomainState; 10] = [
        DomainState::PendingRegistration,
        DomainState::Active,
        DomainState::Expired,
        DomainState::AutoRenewGrace,
        DomainState::Redemption,
        DomainState::PendingDelete,
        DomainState::PendingTransferIn,
        DomainState::TransferredAway,
        DomainState::Suspended,
        DomainState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::PendingRegistration => "pending_registration",
            DomainState::Active => "active",
            DomainState::Expired => "expired",
            DomainState::AutoRenewGrace => "auto_renew_grace",
            DomainState::Redemption => "redemption",
            DomainState::PendingDelete => "pending_delete",
            DomainState::PendingTransferIn => "pending_transfer_in",
            DomainState::TransferredAway => "transferred_away",
            DomainState::Suspended => "suspended",
            DomainState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a renewal can be sent to the registrar in this state.
    pub fn can_renew(self) -> bool {
        matches!(
            self,
            DomainState::Active
                | DomainState::Expired
                | DomainState::AutoRenewGrace
                | DomainState::Suspended
        )
    }

    /// Whether only a restore (RFC 3915) brings the domain back.
    pub fn needs_restore(self) -> bool {
        self == DomainState::Redemption
    }

    /// Whether the domain is in this account at the registry (it can be changed there).
    pub fn is_held(self) -> bool {
        matches!(
            self,
            DomainState::Active
                | DomainState::Expired
                | DomainState::AutoRenewGrace
                | DomainState::Redemption
                | DomainState::PendingDelete
                | DomainState::Suspended
        )
    }

    /// Whether nothing more will happen unless someone orders the name again.
    pub fn is_final(self) -> bool {
        matches!(self, DomainState::Cancelled | DomainState::TransferredAway)
    }

    /// The next state after `event`, or why the event cannot happen now.
    pub fn apply(self, event: DomainEvent) -> Result<DomainState, TransitionError> {
        use DomainEvent as E;
        use DomainState as S;
        let next = match (self, event) {
            // Ordering again after the name ended.
            (S::Cancelled | S::TransferredAway, E::RegistrationRequested) => S::PendingRegistration,
            (S::Cancelled | S::TransferredAway, E::TransferRequested) => S::PendingTransferIn,

            (S::PendingRegistration, E::Registered) => S::Active,
            (S::PendingRegistration, E::RegistrationFailed | E::Cancelled) => S::Cancelled,

            (S::PendingTransferIn, E::TransferCompleted) => S::Active,
            (S::PendingTransferIn, E::TransferFailed | E::Cancelled) => S::Cancelled,

            // A repeated confirmation (a retry that asked the registrar) changes nothing.
            (S::Active, E::Registered | E::TransferCompleted) => S::Active,

            (S::Active | S::Expired | S::AutoRenewGrace, E::Renewed) => S::Active,
            (S::Suspended, E::Renewed) => S::Suspended,
            (S::Redemption, E::Restored) => S::Active,

            (S::Active, E::Expired) => S::Expired,
            (S::Active | S::Expired, E::EnteredAutoRenewGrace) => S::AutoRenewGrace,
            (S::Active | S::Expired | S::AutoRenewGrace | S::Suspended, E::EnteredRedemption) => {
                S::Redemption
            }
            (
                S::Expired | S::AutoRenewGrace | S::Redemption | S::Suspended,
                E::EnteredPendingDelete,
            ) => S::PendingDelete,
            (
                S::Expired | S::AutoRenewGrace | S::Redemption | S::PendingDelete | S::Suspended,
                E::Released,
            ) => S::Cancelled,

            (S::Active | S::Expired | S::AutoRenewGrace | S::Suspended, E::TransferredAway) => {
                S::TransferredAway
            }

            (S::Active | S::Expired | S::AutoRenewGrace, E::Suspended) => S::Suspended,
            (S::Suspended, E::Unsuspended) => S::Active,

            (S::Active | S::Expired | S::AutoRenewGrace | S::Suspended, E::Cancelled) => {
                S::Cancelled
            }

            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }
}

impl fmt::Display for DomainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainEvent {
    RegistrationRequested,
    Registered,
    RegistrationFailed,
    TransferRequested,
    TransferCompleted,
    /// Rejected by the losing registrar, cancelled, or refused (bad auth code).
    TransferFailed,
    Renewed,
    Expired,
    EnteredAutoRenewGrace,
    EnteredRedemption,
    Restored,
    EnteredPendingDelete,
    Released,
    TransferredAway,
    Suspended,
    Unsuspended,
    Cancelled,
}

impl DomainEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainEvent::RegistrationRequested => "registration_requested",
            DomainEvent::Registered => "registered",
            DomainEvent::RegistrationFailed => "registration_failed",
            DomainEvent::TransferRequested => "transfer_requested",
            DomainEvent::TransferCompleted => "transfer_completed",
            DomainEvent::TransferFailed => "transfer_failed",
            DomainEvent::Renewed => "renewed",
            DomainEvent::Expired => "expired",
            DomainEvent::EnteredAutoRenewGrace => "entered_auto_renew_grace",
            DomainEvent::EnteredRedemption => "entered_redemption",
            DomainEvent::Restored => "restored",
            DomainEvent::EnteredPendingDelete => "entered_pending_delete",
            DomainEvent::Released => "released",
            DomainEvent::TransferredAway => "transferred_away",
            DomainEvent::Suspended => "suspended",
            DomainEvent::Unsuspended => "unsuspended",
            DomainEvent::Cancelled => "cancelled",
        }
    }
}

/// An event that cannot happen in the domain's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a domain that is {from} cannot be {}: {}", event.as_str().replace('_', " "), hint(*from, *event))]
pub struct TransitionError {
    pub from: DomainState,
    pub event: DomainEvent,
}

fn hint(from: DomainState, event: DomainEvent) -> &'static str {
    match (from, event) {
        (DomainState::Redemption, DomainEvent::Renewed) => {
            "a domain in redemption must be restored, not renewed"
        }
        (DomainState::PendingDelete, _) => {
            "the registry is deleting it; wait until it is released and register it again"
        }
        (DomainState::Suspended, DomainEvent::Suspended) => "it is already suspended",
        (_, DomainEvent::Unsuspended) => "only a suspended domain can be unsuspended",
        (DomainState::Cancelled | DomainState::TransferredAway, _) => {
            "it is no longer in this account; order it again"
        }
        (DomainState::PendingRegistration | DomainState::PendingTransferIn, _) => {
            "wait until the pending registration or transfer finishes"
        }
        _ => "check the domain's current state first",
    }
}

/// The registry's truth about a domain, as a registrar reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryReport {
    /// Whether the domain is sponsored by this account; `false` when the registrar says
    /// it belongs to someone else (transferred away) or no longer exists.
    pub in_account: bool,
    pub epp_statuses: Vec<EppStatus>,
    pub rgp_statuses: Vec<RgpStatus>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Panel1's state from what the registrar reports, given the state Panel1 had.
///
/// The registry wins about the lifecycle (grace, redemption, deletion, transfers); Panel1
/// keeps what only it decides: a suspension stays until it is lifted, and a pending order
/// stays pending until the registrar confirms or refuses it.
pub fn derive_state(
    current: DomainState,
    report: &RegistryReport,
    now: DateTime<Utc>,
) -> DomainState {
    use DomainState as S;
    let has = |s: EppStatus| report.epp_statuses.contains(&s);
    let rgp = |s: RgpStatus| report.rgp_statuses.contains(&s);

    if !report.in_account {
        return match current {
            S::PendingRegistration | S::PendingTransferIn | S::Cancelled => current,
            S::Redemption | S::PendingDelete => S::Cancelled,
            _ => S::TransferredAway,
        };
    }
    if rgp(RgpStatus::RedemptionPeriod) || rgp(RgpStatus::PendingRestore) {
        return S::Redemption;
    }
    if rgp(RgpStatus::PendingDelete) || has(EppStatus::PendingDelete) {
        return S::PendingDelete;
    }
    if has(EppStatus::PendingCreate) && current == S::PendingRegistration {
        return S::PendingRegistration;
    }
    if has(EppStatus::PendingTransfer) && current == S::PendingTransferIn {
        return S::PendingTransferIn;
    }
    if current == S::Suspended {
        return S::Suspended;
    }
    if rgp(RgpStatus::AutoRenewPeriod) {
        return S::AutoRenewGrace;
    }
    match report.expires_at {
        Some(exp) if exp <= now => S::Expired,
        _ => S::Active,
    }
}

/// How long each phase after expiry lasts. The defaults are the common gTLD ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracePeriods {
    pub auto_renew_grace_days: i64,
    pub redemption_days: i64,
    pub pending_delete_days: i64,
    /// A transfer the losing registrar neither approves nor rejects is approved after this.
    pub transfer_auto_approve_days: i64,
}

impl Default for GracePeriods {
    fn default() -> Self {
        Self {
            auto_renew_grace_days: 45,
            redemption_days: 30,
            pending_delete_days: 5,
            transfer_auto_approve_days: 5,
        }
    }
}

/// Where a domain is in the registry's clock, from its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryPhase {
    Registered,
    AutoRenewGrace,
    Redemption,
    PendingDelete,
    /// Deleted: the name is available again.
    Released,
}

/// The phase at `now` of a domain that expires at `expires_at` and is not renewed.
/// `deleted_at`, when set, is when the domain was deleted (entering redemption early).
pub fn registry_phase(
    expires_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    p: &GracePeriods,
) -> RegistryPhase {
    let redemption_start =
        deleted_at.unwrap_or(expires_at + Duration::days(p.auto_renew_grace_days));
    let pending_delete_start = redemption_start + Duration::days(p.redemption_days);
    let release = pending_delete_start + Duration::days(p.pending_delete_days);
    if now >= release {
        RegistryPhase::Released
    } else if now >= pending_delete_start {
        RegistryPhase::PendingDelete
    } else if now >= redemption_start {
        RegistryPhase::Redemption
    } else if now >= expires_at {
        RegistryPhase::AutoRenewGrace
    } else {
        RegistryPhase::Registered
    }
}

/// When the phase that `now` is in ends (`None` once released).
pub fn phase_ends_at(
    expires_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    p: &GracePeriods,
) -> Option<DateTime<Utc>> {
    let redemption_start =
        deleted_at.unwrap_or(expires_at + Duration::days(p.auto_renew_grace_days));
    let pending_delete_start = redemption_start + Duration::days(p.redemption_days);
    let release = pending_delete_start + Duration::days(p.pending_delete_days);
    match registry_phase(expires_at, deleted_at, now, p) {
        RegistryPhase::Registered => Some(expires_at),
        RegistryPhase::AutoRenewGrace => Some(redemption_start),
        RegistryPhase::Redemption => Some(pending_delete_start),
        RegistryPhase::PendingDelete => Some(release),
        RegistryPhase::Released => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DomainEvent as E;
    use DomainState as S;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn statuses_round_trip_their_rfc_spelling() {
        for s in EppStatus::ALL {
            assert_eq!(EppStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        assert_eq!(
            EppStatus::parse("CLIENTTRANSFERPROHIBITED"),
            Some(EppStatus::ClientTransferProhibited)
        );
        assert_eq!(EppStatus::parse("nonsense"), None);
        for s in RgpStatus::ALL {
            assert_eq!(RgpStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        for s in DomainState::ALL {
            assert_eq!(DomainState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    #[test]
    fn registration_path() {
        assert_eq!(S::PendingRegistration.apply(E::Registered), Ok(S::Active));
        assert_eq!(
            S::PendingRegistration.apply(E::RegistrationFailed),
            Ok(S::Cancelled)
        );
        assert_eq!(S::Active.apply(E::Registered), Ok(S::Active));
        assert!(S::PendingRegistration.apply(E::Renewed).is_err());
        assert_eq!(
            S::Cancelled.apply(E::RegistrationRequested),
            Ok(S::PendingRegistration)
        );
        assert!(S::Active.apply(E::RegistrationRequested).is_err());
    }

    #[test]
    fn expiry_grace_redemption_release() {
        let mut s = S::Active;
        for (e, want) in [
            (E::Expired, S::Expired),
            (E::EnteredAutoRenewGrace, S::AutoRenewGrace),
            (E::EnteredRedemption, S::Redemption),
            (E::EnteredPendingDelete, S::PendingDelete),
            (E::Released, S::Cancelled),
        ] {
            s = s.apply(e).unwrap();
            assert_eq!(s, want);
        }
        assert_eq!(S::AutoRenewGrace.apply(E::Renewed), Ok(S::Active));
        assert_eq!(S::Expired.apply(E::Renewed), Ok(S::Active));
        assert_eq!(S::Redemption.apply(E::Restored), Ok(S::Active));
        let e = S::Redemption.apply(E::Renewed).unwrap_err();
        assert!(e.to_string().contains("restored"), "{e}");
        assert!(S::PendingDelete.apply(E::Restored).is_err());
        assert!(S::PendingDelete.apply(E::Renewed).is_err());
        assert!(S::Active.apply(E::Restored).is_err());
    }

    #[test]
    fn transfer_paths() {
        assert_eq!(
            S::PendingTransferIn.apply(E::TransferCompleted),
            Ok(S::Active)
        );
        assert_eq!(
            S::PendingTransferIn.apply(E::TransferFailed),
            Ok(S::Cancelled)
        );
        assert_eq!(S::Active.apply(E::TransferredAway), Ok(S::TransferredAway));
        assert_eq!(
            S::TransferredAway.apply(E::TransferRequested),
            Ok(S::PendingTransferIn)
        );
        assert!(S::Redemption.apply(E::TransferredAway).is_err());
    }

    #[test]
    fn suspension_is_a_transition_both_ways() {
        assert_eq!(S::Active.apply(E::Suspended), Ok(S::Suspended));
        assert_eq!(S::Suspended.apply(E::Unsuspended), Ok(S::Active));
        assert_eq!(S::Suspended.apply(E::Renewed), Ok(S::Suspended));
        let e = S::Suspended.apply(E::Suspended).unwrap_err();
        assert_eq!(e.from, S::Suspended);
        assert!(e.to_string().contains("already suspended"), "{e}");
        let e = S::Active.apply(E::Unsuspended).unwrap_err();
        assert!(e.to_string().contains("only a suspended"), "{e}");
        assert!(S::PendingRegistration.apply(E::Suspended).is_err());
        assert!(S::Redemption.apply(E::Suspended).is_err());
    }

    #[test]
    fn final_states_accept_only_a_new_order() {
        for s in [S::Cancelled, S::TransferredAway] {
            assert!(s.is_final());
            for e in [
                E::Registered,
                E::Renewed,
                E::Suspended,
                E::Unsuspended,
                E::Restored,
                E::Expired,
                E::TransferCompleted,
            ] {
                assert!(s.apply(e).is_err(), "{s} + {e:?}");
            }
        }
    }

    #[test]
    fn every_pair_answers_without_panicking_and_errors_name_the_state() {
        let events = [
            E::RegistrationRequested,
            E::Registered,
            E::RegistrationFailed,
            E::TransferRequested,
            E::TransferCompleted,
            E::TransferFailed,
            E::Renewed,
            E::Expired,
            E::EnteredAutoRenewGrace,
            E::EnteredRedemption,
            E::Restored,
            E::EnteredPendingDelete,
            E::Released,
            E::TransferredAway,
            E::Suspended,
            E::Unsuspended,
            E::Cancelled,
        ];
        let mut allowed = 0;
        for s in S::ALL {
            for e in events {
                match s.apply(e) {
                    Ok(_) => allowed += 1,
                    Err(err) => assert!(err.to_string().contains(s.as_str())),
                }
            }
        }
        // The table is explicit: this count changes only when a transition is added.
        assert_eq!(allowed, 45);
    }

    #[test]
    fn derived_from_the_registry() {
        let now = t(2030, 6, 1);
        let active = RegistryReport {
            in_account: true,
            epp_statuses: vec![EppStatus::ClientTransferProhibited],
            rgp_statuses: vec![],
            expires_at: Some(t(2031, 1, 1)),
        };
        assert_eq!(derive_state(S::Active, &active, now), S::Active);
        assert_eq!(
            derive_state(S::PendingRegistration, &active, now),
            S::Active
        );
        assert_eq!(derive_state(S::Suspended, &active, now), S::Suspended);

        let expired = RegistryReport {
            expires_at: Some(t(2030, 5, 1)),
            ..active.clone()
        };
        assert_eq!(derive_state(S::Active, &expired, now), S::Expired);
        let grace = RegistryReport {
            rgp_statuses: vec![RgpStatus::AutoRenewPeriod],
            ..expired.clone()
        };
        assert_eq!(derive_state(S::Active, &grace, now), S::AutoRenewGrace);
        let redemption = RegistryReport {
            epp_statuses: vec![EppStatus::PendingDelete],
            rgp_statuses: vec![RgpStatus::RedemptionPeriod],
            ..expired.clone()
        };
        assert_eq!(derive_state(S::Active, &redemption, now), S::Redemption);
        assert_eq!(derive_state(S::Suspended, &redemption, now), S::Redemption);
        let pending_delete = RegistryReport {
            epp_statuses: vec![EppStatus::PendingDelete],
            rgp_statuses: vec![RgpStatus::PendingDelete],
            ..expired.clone()
        };
        assert_eq!(
            derive_state(S::Redemption, &pending_delete, now),
            S::PendingDelete
        );

        let gone = RegistryReport::default();
        assert_eq!(derive_state(S::Active, &gone, now), S::TransferredAway);
        assert_eq!(derive_state(S::PendingDelete, &gone, now), S::Cancelled);
        assert_eq!(
            derive_state(S::PendingTransferIn, &gone, now),
            S::PendingTransferIn
        );

        let pending_tr = RegistryReport {
            epp_statuses: vec![EppStatus::PendingTransfer],
            ..active.clone()
        };
        assert_eq!(
            derive_state(S::PendingTransferIn, &pending_tr, now),
            S::PendingTransferIn
        );
        assert_eq!(derive_state(S::PendingTransferIn, &active, now), S::Active);
    }

    #[test]
    fn the_registry_clock() {
        let p = GracePeriods::default();
        let exp = t(2030, 1, 1);
        let at = |d: i64| exp + Duration::days(d);
        assert_eq!(
            registry_phase(exp, None, at(-1), &p),
            RegistryPhase::Registered
        );
        assert_eq!(
            registry_phase(exp, None, at(0), &p),
            RegistryPhase::AutoRenewGrace
        );
        assert_eq!(
            registry_phase(exp, None, at(44), &p),
            RegistryPhase::AutoRenewGrace
        );
        assert_eq!(
            registry_phase(exp, None, at(45), &p),
            RegistryPhase::Redemption
        );
        assert_eq!(
            registry_phase(exp, None, at(74), &p),
            RegistryPhase::Redemption
        );
        assert_eq!(
            registry_phase(exp, None, at(75), &p),
            RegistryPhase::PendingDelete
        );
        assert_eq!(
            registry_phase(exp, None, at(80), &p),
            RegistryPhase::Released
        );
        assert_eq!(phase_ends_at(exp, None, at(10), &p), Some(at(45)));
        assert_eq!(phase_ends_at(exp, None, at(90), &p), None);
        // Deleted early: redemption starts at the deletion.
        let del = t(2029, 6, 1);
        assert_eq!(
            registry_phase(exp, Some(del), t(2029, 6, 2), &p),
            RegistryPhase::Redemption
        );
    }
}
