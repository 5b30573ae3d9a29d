namespace QemuGuest.Protocol.Tests;

/// <summary>Process-wide allocation figures are only meaningful while nothing else runs.</summary>
[CollectionDefinition(nameof(HostileAgentClientTests), DisableParallelization = true)]
public sealed class HostileAgentClientCollection
{
}
