using System;
using System.Collections.Generic;
using System.IO;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Endpoints;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Qmp;

namespace QemuGuest.Relay;

/// <summary>A VM as configured or discovered.</summary>
public sealed record VmDefinition(string Name, string Agent, string? Qmp, string? QmpPort, IReadOnlyList<EndpointOptions> Endpoints, string Source)
{
    /// <summary>Same VM wiring (a change means stop and start again).</summary>
    public bool SameWiring(VmDefinition other) =>
        Agent == other.Agent && Qmp == other.Qmp && QmpPort == other.QmpPort && ReferenceEquals(Endpoints, other.Endpoints);
}
