//! The rules of the public Validation API (`validate`, `activate`, `deactivate`), as pure
//! functions over what one read of the store returns: the handler reads, asks these rules for a
//! [`rules::Decision`], writes the change they ask for (conditionally), and answers.
//!
//! - [`code`]: the contract's answer codes and their default sentences;
//! - [`device`]: device ids and the per-(product, device) record (activated ever? trial?);
//! - [`ips`]: the distinct-IP window behind `maxIps`;
//! - [`leases`]: floating seats (`POST /api/licenses/leases`);
//! - [`meters`]: usage limits (`POST /api/licenses/usage`);
//! - [`budget`]: the per-license budget of device changes (activation churn);
//! - [`usage`]: the validation state kept on the license item next to the license;
//! - [`rules`]: what each route decides for a license;
//! - [`trial`]: what `validate` without a key decides.

pub mod budget;
pub mod code;
pub mod device;
pub mod ips;
pub mod leases;
pub mod meters;
pub mod rules;
pub mod trial;
pub mod usage;

pub use code::{Code, Verdict};
pub use device::{DeviceId, ProductDevice};
pub use rules::{Check, Decision, LicenseChange};
pub use usage::LicenseUsage;
