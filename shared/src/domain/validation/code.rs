//! The answer codes of the contract, and the sentence that goes with each.

use serde::Serialize;

/// Every code a validation answer can carry (`SCREAMING_SNAKE_CASE` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Valid,
    Trial,
    NotFound,
    ProductMismatch,
    Expired,
    Suspended,
    Revoked,
    NotActivated,
    DeviceLimitReached,
    IpLimitReached,
    DeviceRequired,
    TrialExpired,
    NoTrial,
    /// A license from a test-mode payment, asked about by an app that is not in test mode.
    TestLicense,
    /// Every floating seat of the license is held by another device.
    ConcurrencyLimitReached,
    /// The lease presented has lapsed or was released: take a new one.
    LeaseExpired,
    /// The quantity does not fit what remains of the meter's limit this period.
    UsageLimitReached,
}

impl Code {
    /// Whether the app may run: only `VALID` and `TRIAL` say yes.
    pub fn is_valid(self) -> bool {
        matches!(self, Code::Valid | Code::Trial)
    }

    /// The default human sentence of the code.
    pub fn detail(self) -> &'static str {
        match self {
            Code::Valid => "The license is valid.",
            Code::Trial => "The trial is running.",
            Code::NotFound => "No license with this key exists for this product.",
            Code::ProductMismatch => "The license is for another product.",
            Code::Expired => "The license has expired.",
            Code::Suspended => "The license is suspended.",
            Code::Revoked => "The license has been revoked.",
            Code::NotActivated => "The device is not activated on this license.",
            Code::DeviceLimitReached => {
                "The license is activated on its maximum number of devices."
            }
            Code::IpLimitReached => {
                "The license is used from its maximum number of IP addresses; retry later."
            }
            Code::DeviceRequired => "A deviceId is required.",
            Code::TrialExpired => "The trial has ended.",
            Code::NoTrial => "No trial is available for this device and product.",
            Code::ConcurrencyLimitReached => {
                "Every seat of this license is in use; retry when one is released."
            }
            Code::UsageLimitReached => {
                "This license has used its limit of this meter for the period; nothing was recorded."
            }
            Code::LeaseExpired => {
                "The lease has lapsed or was released; take a new one (POST /api/licenses/leases)."
            }
            Code::TestLicense => {
                "The license was issued in test mode; it is valid only for apps that send \"environment\": \"test\", unless the product accepts test licenses."
            }
        }
    }

    /// This code with its default sentence.
    pub fn verdict(self) -> Verdict {
        Verdict {
            code: self,
            detail: self.detail(),
        }
    }
}

/// A code and the sentence the answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub code: Code,
    pub detail: &'static str,
}

impl Verdict {
    /// The code with a more specific sentence.
    pub fn with_detail(code: Code, detail: &'static str) -> Self {
        Verdict { code, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_the_contract_spells_them() {
        assert_eq!(
            serde_json::to_string(&Code::DeviceLimitReached).unwrap(),
            "\"DEVICE_LIMIT_REACHED\""
        );
        assert_eq!(
            serde_json::to_string(&Code::IpLimitReached).unwrap(),
            "\"IP_LIMIT_REACHED\""
        );
        assert!(Code::Trial.is_valid() && Code::Valid.is_valid());
        assert!(!Code::TrialExpired.is_valid());
        assert_eq!(
            serde_json::to_string(&Code::TestLicense).unwrap(),
            "\"TEST_LICENSE\""
        );
        assert!(!Code::TestLicense.is_valid());
    }
}
