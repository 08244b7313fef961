package keyhook

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// DeviceHash is what answers and license files say about a device instead of its id:
// hex(SHA-256("keyhook-device-v1" || 0x00 || productId || 0x00 || deviceId)).
func DeviceHash(productID, deviceID string) string {
	return domainHash("keyhook-device-v1", productID, deviceID)
}

// DeviceIDFrom is the deviceId of a machine whose OS id is machineID, for productID:
// hex(SHA-256("keyhook-fingerprint-v1" || 0x00 || productId || 0x00 || machineId)). Two
// products get unrelated ids and the machine id cannot be recovered from them.
func DeviceIDFrom(productID, machineID string) string {
	return domainHash("keyhook-fingerprint-v1", productID, machineID)
}

// DeviceID is this machine's deviceId for productID (64 hex characters): DeviceIDFrom of the
// OS machine id (MachineID). The machine id itself never leaves the machine.
func DeviceID(productID string) (string, error) {
	id, err := MachineID()
	if err != nil {
		return "", err
	}
	return DeviceIDFrom(productID, id), nil
}

func domainHash(domain, productID, id string) string {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	h.Write([]byte(productID))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// MachineID is the machine's own id as the OS gives it: /etc/machine-id (or
// /var/lib/dbus/machine-id) on Linux, IOPlatformUUID on macOS, MachineGuid on Windows. It
// changes when the OS is reinstalled (a new device: deactivate the old one).
func MachineID() (string, error) {
	var id string
	switch runtime.GOOS {
	case "linux":
		for _, p := range []string{"/etc/machine-id", "/var/lib/dbus/machine-id"} {
			if b, err := os.ReadFile(p); err == nil {
				id = string(b)
				break
			}
		}
		if id == "" {
			return "", &FingerprintError{"no /etc/machine-id"}
		}
	case "darwin":
		out, err := exec.Command("ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
		if err != nil {
			return "", &FingerprintError{"ioreg: " + err.Error()}
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "IOPlatformUUID") {
				if parts := strings.Split(line, "\""); len(parts) > 3 {
					id = parts[3]
				}
				break
			}
		}
		if id == "" {
			return "", &FingerprintError{"no IOPlatformUUID"}
		}
	case "windows":
		out, err := exec.Command("reg", "query", `HKLM\SOFTWARE\Microsoft\Cryptography`, "/v", "MachineGuid").Output()
		if err != nil {
			return "", &FingerprintError{"reg: " + err.Error()}
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "MachineGuid") {
				if f := strings.Fields(line); len(f) > 0 {
					id = f[len(f)-1]
				}
				break
			}
		}
		if id == "" {
			return "", &FingerprintError{"no MachineGuid"}
		}
	default:
		return "", &FingerprintError{"no machine id on this platform; pass your own deviceId"}
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return "", &FingerprintError{"the machine id is empty"}
	}
	return id, nil
}
