using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The host's side of the trust boundary for names a guest lists (a recursive copy out of the
/// guest): each must be exactly one path component, and the path it makes must stay under the
/// destination root, as OpenSSH's scp and rsync check every name the remote side sends
/// (CVE-2019-6111, CVE-2022-29154). Plain .NET only: the cmdlets use it, xunit tests it.
/// </summary>
public static class GuestNames
{
    private static readonly HashSet<string> s_windowsDevices = new(StringComparer.OrdinalIgnoreCase)
    {
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$",
        "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM¹", "COM²", "COM³",
        "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT¹", "LPT²", "LPT³",
    };

    /// <summary>True when this host's own file names follow Windows rules (reserved names, ':', trailing dot).</summary>
    public static bool HostIsWindows { get; } = RuntimeInformation.IsOSPlatform(OSPlatform.Windows);

    /// <summary>
    /// Windows and macOS file systems fold case by default: there two guest names that differ
    /// only in case would land on the same host file.
    /// </summary>
    public static bool HostFoldsCase { get; } = HostIsWindows || RuntimeInformation.IsOSPlatform(OSPlatform.OSX);

    /// <summary>How names collide on this host's (default) file systems.</summary>
    public static StringComparer HostComparer => HostFoldsCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>
    /// Why <paramref name="name"/> is not exactly one path component that is safe to create on
    /// this host, or null when it is. <paramref name="windowsRules"/> adds what Windows would
    /// reinterpret (drive forms, streams, device names, trailing dots and spaces); it defaults
    /// to this host's platform.
    /// </summary>
    public static string? Problem(string? name, bool? windowsRules = null)
    {
        if (name is null || name.Length == 0)
        {
            return "the name is empty";
        }
        if (name == "." || name == "..")
        {
            return "'" + name + "' names a folder itself or its parent";
        }
        foreach (char c in name)
        {
            if (c == '/' || c == '\\')
            {
                return "it holds a path separator ('" + c + "')";
            }
            if (c == '\0')
            {
                return "it holds a NUL character";
            }
            if (char.IsControl(c))
            {
                return "it holds a control character (U+" + ((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture) + ")";
            }
        }
        if (!(windowsRules ?? HostIsWindows))
        {
            return null;
        }
        if (name.IndexOfAny(new[] { ':', '<', '>', '"', '|', '?', '*' }) >= 0)
        {
            return "it holds a character Windows reserves (: < > \" | ? *)";
        }
        char last = name[name.Length - 1];
        if (last == '.' || last == ' ')
        {
            return "Windows drops a trailing dot or space, so it would name another file";
        }
        int dot = name.IndexOf('.');
        string stem = (dot < 0 ? name : name.Substring(0, dot)).TrimEnd(' ');
        if (s_windowsDevices.Contains(stem))
        {
            return "'" + stem + "' is a Windows device name";
        }
        return null;
    }

    /// <summary>
    /// <paramref name="text"/> made safe to show on a terminal and in a log: control characters,
    /// unpaired surrogates and U+FFFD become visible escapes, and it is cut at
    /// <paramref name="maxChars"/> (a guest name may be megabytes long).
    /// </summary>
    public static string Printable(string? text, int maxChars = 256)
    {
        if (text is null)
        {
            return "(null)";
        }
        var sb = new StringBuilder(Math.Min(text.Length, maxChars) + 8);
        for (int i = 0; i < text.Length; i++)
        {
            if (sb.Length >= maxChars)
            {
                sb.Append("…(" + text.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + " chars)");
                break;
            }
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[++i]);
            }
            else if (c == '\0')
            {
                sb.Append("\\0");
            }
            else if (char.IsControl(c) || char.IsSurrogate(c) || c == '\u2028' || c == '\u2029' || c == '\u200E' || c == '\u200F' || (c >= '\u202A' && c <= '\u202E') || (c >= '\u2066' && c <= '\u2069'))
            {
                sb.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// <paramref name="root"/> joined with <paramref name="name"/> (already checked by
    /// <see cref="Problem"/>), or null when the full path would not lie strictly under
    /// <paramref name="root"/> — the last line of defence should a name that passed the check
    /// still be reinterpreted by the platform's path rules.
    /// </summary>
    public static string? JoinUnder(string root, string folder, string name)
    {
        string fullRoot = Path.GetFullPath(root);
        string candidate = Path.GetFullPath(Path.Combine(folder, name));
        return IsUnder(fullRoot, candidate) ? candidate : null;
    }

    /// <summary>True when <paramref name="path"/> (a full path) lies strictly below <paramref name="root"/> (a full path).</summary>
    public static bool IsUnder(string root, string path)
    {
        var comparison = HostFoldsCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        string prefix = root.EndsWith(Path.DirectorySeparatorChar.ToString(), StringComparison.Ordinal) ? root : root + Path.DirectorySeparatorChar;
        return path.Length > prefix.Length && path.StartsWith(prefix, comparison);
    }
}

/// <summary>What a host path names, without following a link at its last component.</summary>
public enum HostEntryKind
{
    None,
    File,
    Directory,

    /// <summary>A symbolic link (dangling or not), a junction or another reparse point.</summary>
    Link,
}

/// <summary>lstat for the host side of a copy, on both .NET and .NET Framework.</summary>
public static class HostPath
{
    public static HostEntryKind Inspect(string path)
    {
        FileAttributes attributes;
        try
        {
            // On Unix .NET falls back to lstat when stat fails, so a dangling link is still
            // seen, as a reparse point; on Windows links and junctions are reparse points.
            attributes = File.GetAttributes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return HostEntryKind.None;
        }
        if ((attributes & FileAttributes.ReparsePoint) != 0)
        {
            return HostEntryKind.Link;
        }
        return (attributes & FileAttributes.Directory) != 0 ? HostEntryKind.Directory : HostEntryKind.File;
    }
}
