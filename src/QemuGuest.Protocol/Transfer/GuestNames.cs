using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using QemuGuest.Protocol.Validation;

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
    /// Null when <paramref name="name"/> is one path component that is safe to create on this
    /// host, else why not, as a short reason that never repeats the raw name ("contains '/'").
    /// The common rules are <see cref="PathComponent.Problem"/>'s (the relay applies the same
    /// ones to listing replies); <paramref name="windowsRules"/> adds what Windows would
    /// reinterpret (drive and stream forms, device names, trailing dots and spaces) and
    /// defaults to this host's platform, since only there do those names mean something else.
    /// </summary>
    public static string? Problem(string? name, bool? windowsRules = null)
    {
        string? common = PathComponent.Problem(name);
        if (common is not null || !(windowsRules ?? HostIsWindows))
        {
            return common;
        }
        if (name!.IndexOfAny(new[] { ':', '<', '>', '"', '|', '?', '*' }) >= 0)
        {
            return "contains a character Windows reserves (: < > \" | ? *)";
        }
        char last = name[name.Length - 1];
        if (last == '.' || last == ' ')
        {
            return "ends with a dot or space, which Windows drops (it would name another file)";
        }
        int dot = name.IndexOf('.');
        string stem = (dot < 0 ? name : name.Substring(0, dot)).TrimEnd(' ');
        if (s_windowsDevices.Contains(stem))
        {
            return "is the Windows device name '" + stem + "'";
        }
        return null;
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
