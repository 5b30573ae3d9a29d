namespace QemuGuest.Agent.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AgentSafetyCollection
{
    public const string Name = "agent safety (shared guest user)";
}
