using System;
using System.Text;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// One guest file, folder or other item, written by Get-VMGuestChildItem. The values are the
/// guest's, raw (the format view escapes them for the console); FullName is null when the
/// listed name is not one path component, so it cannot be piped on to name another item.
/// </summary>
public sealed class GuestChildItem
{
    internal GuestChildItem(string vmName, GuestListedItem item)
    {
        var e = item.Entry;
        VMName = vmName;
        Name = e.Name;
        FullName = item.FullName;
        Folder = item.Folder;
        Type = e.IsLink ? "SymbolicLink" : e.Kind.ToString();
        Length = e.Size;
        UnixMode = e.Mode >= 0 ? e.Mode : null;
        Mode = ModeText(e);
        LastWriteTimeNanoseconds = e.LastWriteNanoseconds;
        LastWriteTime = e.LastWriteNanoseconds is long ns ? GeneratedCmdletSupport.FromUnixNanoseconds(ns) : null;
    }

    public string VMName { get; }

    /// <summary>The name as the guest listed it.</summary>
    public string Name { get; }

    /// <summary>The item's guest path; null when the guest listed a name that is not one component.</summary>
    public string? FullName { get; }

    /// <summary>The guest folder the item was listed in.</summary>
    public string Folder { get; }

    /// <summary>File, Directory, SymbolicLink or Other (device, FIFO, socket).</summary>
    public string Type { get; }

    /// <summary>Size in bytes, as the guest reported it.</summary>
    public long Length { get; }

    /// <summary>Permissions as ls shows them, e.g. -rw-r--r-- (?????????? when the guest did not say).</summary>
    public string Mode { get; }

    /// <summary>The POSIX permission bits (e.g. 420 for 0644); null when the guest did not say.</summary>
    public int? UnixMode { get; }

    /// <summary>Last modification, local time; null when the guest's value is not a representable time.</summary>
    public DateTime? LastWriteTime { get; }

    /// <summary>Last modification as the guest gave it: nanoseconds since 1970 UTC.</summary>
    public long? LastWriteTimeNanoseconds { get; }

    public bool PSIsContainer => Type == "Directory";

    public override string ToString() => FullName ?? Name;

    private static string ModeText(GuestListEntry e)
    {
        char type = e.IsLink ? 'l' : e.Kind switch
        {
            GuestEntryKind.Directory => 'd',
            GuestEntryKind.File => '-',
            _ => '?',
        };
        var sb = new StringBuilder(10).Append(type);
        if (e.IsLink)
        {
            // Linux never uses a link's own permissions (always 0777, as ls shows them); an
            // agent that reports its target's bits instead keeps them in UnixMode.
            return sb.Append("rwxrwxrwx").ToString();
        }
        if (e.Mode < 0)
        {
            return sb.Append('?', 9).ToString();
        }
        int m = e.Mode;
        // Owner, group, others; the set-id and sticky bits show in the x column as ls does.
        Triple(sb, m >> 6, (m & 0x800) != 0, 's');
        Triple(sb, m >> 3, (m & 0x400) != 0, 's');
        Triple(sb, m, (m & 0x200) != 0, 't');
        return sb.ToString();
    }

    private static void Triple(StringBuilder sb, int bits, bool special, char specialChar)
    {
        sb.Append((bits & 4) != 0 ? 'r' : '-').Append((bits & 2) != 0 ? 'w' : '-');
        bool x = (bits & 1) != 0;
        sb.Append(special ? (x ? specialChar : char.ToUpperInvariant(specialChar)) : (x ? 'x' : '-'));
    }
}
