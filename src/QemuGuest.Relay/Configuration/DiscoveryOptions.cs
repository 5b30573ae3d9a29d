using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

public sealed class DiscoveryOptions
{
    /// <summary>Directories whose *.sock / *.qga sockets are agent channels named after the file.</summary>
    public List<string> Directories { get; set; } = new();

    /// <summary>Proxmox: &lt;ProxmoxDirectory&gt;/&lt;vmid&gt;.qga (+ &lt;vmid&gt;.qmp).</summary>
    public bool Proxmox { get; set; }

    public string ProxmoxDirectory { get; set; } = "/var/run/qemu-server";

    /// <summary>libvirt: &lt;LibvirtDirectory&gt;/domain-N-NAME/org.qemu.guest_agent.0.</summary>
    public bool Libvirt { get; set; }

    public string LibvirtDirectory { get; set; } = "/var/lib/libvirt/qemu/channel/target";

    /// <summary>
    /// Owners (user names or uids) trusted besides root and the relay's own user for discovery
    /// folders, the folders above them and the sockets in them; e.g. libvirt-qemu for libvirt's
    /// channel folders. A folder that fails the check is skipped with a warning.
    /// </summary>
    public List<string> TrustedOwners { get; set; } = new();

    /// <summary>How often discovery looks again.</summary>
    public double RescanSeconds { get; set; } = 10;
}
