using System.Collections.Generic;

namespace QemuGuest.Protocol.Transfer;

/// <summary>One copy between this host and a guest: its direction, sources, destination and options.</summary>
public sealed class GuestCopyRequest
{
    /// <summary>True: local to guest (<see cref="LocalSources"/>); false: guest to local (<see cref="GuestSources"/>).</summary>
    public bool ToGuest { get; set; }

    public List<GuestCopySource> LocalSources { get; } = new();

    public List<string> GuestSources { get; } = new();

    /// <summary>
    /// A guest path (into the guest) or a full local path (out of it). A folder, existing or
    /// ending with a separator, receives the sources by name; several sources need one.
    /// </summary>
    public string Destination { get; set; } = string.Empty;

    /// <summary>Copy folders with their content.</summary>
    public bool Recurse { get; set; }

    /// <summary>Per file; <see cref="TransferOptions.Force"/> also creates missing destination folders.</summary>
    public TransferOptions Options { get; set; } = new();
}
