namespace QemuGuest.Protocol.Client;

/// <summary>Where a <see cref="GuestAgentClient"/>'s connection stands.</summary>
public enum GuestAgentClientState
{
    /// <summary>No connection; the next call connects.</summary>
    Disconnected,

    /// <summary>Connected, but the next request must be preceded by a sync round.</summary>
    OutOfStep,

    /// <summary>Connected and in step with the agent.</summary>
    Ready,

    Disposed,
}
