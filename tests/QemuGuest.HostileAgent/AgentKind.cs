namespace QemuGuest.HostileAgent;

/// <summary>Which agent a test talks to: ours or Debian's qemu-ga.</summary>
public enum AgentKind
{
    Ours,
    Stock,
}
