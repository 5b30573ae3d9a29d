namespace QemuGuest.Protocol.Transfer;

/// <summary>One local file or folder to copy into the guest, already resolved to a full path.</summary>
public sealed class GuestCopySource
{
    public GuestCopySource(string path, bool isDirectory)
    {
        Path = path;
        IsDirectory = isDirectory;
    }

    public string Path { get; }

    public bool IsDirectory { get; }
}
