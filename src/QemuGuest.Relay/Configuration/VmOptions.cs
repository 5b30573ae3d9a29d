using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

/// <summary>One VM.</summary>
public sealed class VmOptions
{
    /// <summary>
    /// The agent chardev: a unix socket path (QEMU <c>-chardev socket,path=...,server=on</c>),
    /// or <c>tcp:HOST:PORT</c>.
    /// </summary>
    public string Agent { get; set; } = "";

    /// <summary>Optional QMP socket of the same VM, to follow the agent port opening and closing.</summary>
    public string? Qmp { get; set; }

    /// <summary>The virtserialport device id VSERPORT_CHANGE names (libvirt: channel0, Proxmox: qga0).</summary>
    public string? QmpPort { get; set; }

    /// <summary>Endpoints of this VM; when empty, <see cref="RelayOptions.Endpoints"/>.</summary>
    public List<EndpointOptions> Endpoints { get; set; } = new();
}
