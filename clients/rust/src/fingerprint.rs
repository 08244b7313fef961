//! A stable device id for `deviceId`, from the machine's own id:
//! - Linux: `/etc/machine-id` (or `/var/lib/dbus/machine-id`);
//! - macOS: `IOPlatformUUID` (`ioreg -rd1 -c IOPlatformExpertDevice`);
//! - Windows: `MachineGuid` (`HKLM\SOFTWARE\Microsoft\Cryptography`).
//!
//! **Privacy.** The machine id never leaves the machine: [`device_id`] sends
//! `hex(SHA-256("keyhook-fingerprint-v1" || 0x00 || productId || 0x00 || machineId))`, so two
//! vendors (or two products) see unrelated ids, and the id cannot be reversed to the machine's.
//! Keyhook stores it on the license it is activated on (the merchant sees it there) and puts
//! only a further hash of it in signed answers and files. It changes when the OS is
//! reinstalled (a new machine id), which frees nothing: deactivate the old device.

use sha2::{Digest, Sha256};

use crate::Error;

/// The machine's own id, as the OS gives it.
pub fn machine_id() -> Result<String, Error> {
    let id = read_machine_id()?;
    let id = id.trim().to_string();
    if id.is_empty() {
        return Err(Error::Fingerprint("the machine id is empty".into()));
    }
    Ok(id)
}

#[cfg(target_os = "linux")]
fn read_machine_id() -> Result<String, Error> {
    ["/etc/machine-id", "/var/lib/dbus/machine-id"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .ok_or_else(|| Error::Fingerprint("no /etc/machine-id".into()))
}

#[cfg(target_os = "macos")]
fn read_machine_id() -> Result<String, Error> {
    let out = std::process::Command::new("ioreg")
        .args(["-rd1", "-c", "IOPlatformExpertDevice"])
        .output()
        .map_err(|e| Error::Fingerprint(format!("ioreg: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("IOPlatformUUID"))
        .and_then(|l| l.split('"').nth(3))
        .map(str::to_string)
        .ok_or_else(|| Error::Fingerprint("no IOPlatformUUID".into()))
}

#[cfg(target_os = "windows")]
fn read_machine_id() -> Result<String, Error> {
    let out = std::process::Command::new("reg")
        .args([
            "query",
            r"HKLM\SOFTWARE\Microsoft\Cryptography",
            "/v",
            "MachineGuid",
        ])
        .output()
        .map_err(|e| Error::Fingerprint(format!("reg: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains("MachineGuid"))
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_string)
        .ok_or_else(|| Error::Fingerprint("no MachineGuid".into()))
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn read_machine_id() -> Result<String, Error> {
    Err(Error::Fingerprint(
        "no machine id on this platform; pass your own deviceId".into(),
    ))
}

/// The `deviceId` of this machine for `product_id` (64 hex characters).
pub fn device_id(product_id: &str) -> Result<String, Error> {
    Ok(device_id_from(product_id, &machine_id()?))
}

/// The `deviceId` for a given machine id.
pub fn device_id_from(product_id: &str, machine_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"keyhook-fingerprint-v1");
    h.update([0u8]);
    h.update(product_id.as_bytes());
    h.update([0u8]);
    h.update(machine_id.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_product_and_hide_the_machine_id() {
        let a = device_id_from("42", "0123456789abcdef");
        assert_eq!(a, device_id_from("42", "0123456789abcdef"));
        assert_ne!(a, device_id_from("43", "0123456789abcdef"));
        assert_eq!(a.len(), 64);
        assert!(!a.contains("0123456789abcdef"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_machine_has_a_stable_id() {
        if std::path::Path::new("/etc/machine-id").exists() {
            assert_eq!(device_id("42").unwrap(), device_id("42").unwrap());
        }
    }
}
