//! The roles a user account can hold (see the contract's role table).

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    PlatformAdmin,
    CustomsAdmin,
    CustomsOfficer,
    BorderOfficer,
    Auditor,
    Trader,
}

impl UserRole {
    pub const ALL: [UserRole; 6] = [
        UserRole::PlatformAdmin,
        UserRole::CustomsAdmin,
        UserRole::CustomsOfficer,
        UserRole::BorderOfficer,
        UserRole::Auditor,
        UserRole::Trader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::PlatformAdmin => "platform_admin",
            UserRole::CustomsAdmin => "customs_admin",
            UserRole::CustomsOfficer => "customs_officer",
            UserRole::BorderOfficer => "border_officer",
            UserRole::Auditor => "auditor",
            UserRole::Trader => "trader",
        }
    }

    /// Roles that belong to one administration (all but the platform administrator and traders).
    pub fn is_administration_role(self) -> bool {
        !matches!(self, UserRole::PlatformAdmin | UserRole::Trader)
    }
}

impl FromStr for UserRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UserRole::ALL.into_iter().find(|role| role.as_str() == s).ok_or_else(|| {
            "must be one of platform_admin, customs_admin, customs_officer, border_officer, auditor, trader".into()
        })
    }
}
