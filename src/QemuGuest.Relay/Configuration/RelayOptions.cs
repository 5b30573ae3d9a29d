using System;
using System.Collections.Generic;

namespace QemuGuest.Relay.Configuration;

// The relay's configuration, bound from the "Relay" section of the JSON config file
// (default /etc/qemuguest/relay.json, or --config PATH). Validated once at start by
// RelayOptionsValidator; see docs/relay.md for the format and every default.

/// <summary>Root of the relay configuration.</summary>
public sealed class RelayOptions
{
    public const string SectionName = "Relay";

    /// <summary>Where the per-VM sockets and control.sock live (created 0700; sockets 0600).</summary>
    public string RuntimeDirectory { get; set; } = OperatingSystem.IsWindows() ? "" : "/run/qemuguest-relay";

    /// <summary>VMs named explicitly: name → agent channel (and optional QMP socket).</summary>
    public Dictionary<string, VmOptions> Vms { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Finding VMs by the common socket layouts; all off by default.</summary>
    public DiscoveryOptions Discovery { get; set; } = new();

    /// <summary>
    /// The management endpoints every VM gets unless the VM lists its own. Default: one
    /// unrestricted endpoint named "" (socket &lt;vm&gt;.sock).
    /// </summary>
    public List<EndpointOptions> Endpoints { get; set; } = new();

    /// <summary>Named command policies endpoints refer to. "read-only" and "no-exec" are built in (and may be overridden).</summary>
    public Dictionary<string, PolicyOptions> Policies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Bounds on guest bytes, queues and waits.</summary>
    public LimitOptions Limits { get; set; } = new();

    /// <summary>Serve the control endpoint (control.sock) in the runtime directory.</summary>
    public bool ControlEndpoint { get; set; } = true;
}
