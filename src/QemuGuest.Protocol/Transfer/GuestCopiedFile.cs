namespace QemuGuest.Protocol.Transfer;

/// <summary>One file a <see cref="GuestCopy"/> put in place, and how.</summary>
public sealed class GuestCopiedFile
{
    internal GuestCopiedFile(bool toGuest, string source, string destination, string name, TransferResult result)
    {
        ToGuest = toGuest;
        Source = source;
        Destination = destination;
        Name = name;
        Result = result;
    }

    public bool ToGuest { get; }

    public string Source { get; }

    public string Destination { get; }

    /// <summary>The file's name, as progress shows it.</summary>
    public string Name { get; }

    public TransferResult Result { get; }
}
