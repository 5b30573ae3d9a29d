namespace QemuGuest.Relay.Guest;

/// <summary>Where a VM's agent channel is in its life: stopped, connecting, syncing, ready for requests.</summary>
public enum VmState
{
    Stopped,
    Connecting,
    Syncing,
    Ready,
}
