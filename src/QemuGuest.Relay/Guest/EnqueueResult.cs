namespace QemuGuest.Relay.Guest;

/// <summary>Why an item was not queued.</summary>
public enum EnqueueResult
{
    Queued,
    QueueFull,
    ClientQueueFull,
    TooManyBytes,
}
