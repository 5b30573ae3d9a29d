using System.Collections.Generic;
using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay;

/// <summary>A VM as configured or discovered.</summary>
public sealed record VmDefinition(string Name, string Agent, string? Qmp, string? QmpPort, IReadOnlyList<EndpointOptions> Endpoints, string Source)
{
    /// <summary>Same VM wiring (a change means stop and start again).</summary>
    public bool SameWiring(VmDefinition other) =>
        Agent == other.Agent && Qmp == other.Qmp && QmpPort == other.QmpPort && ReferenceEquals(Endpoints, other.Endpoints);
}
