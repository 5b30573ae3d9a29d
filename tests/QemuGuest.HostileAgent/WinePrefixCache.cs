using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;

namespace QemuGuest.HostileAgent;

/// <summary>
/// A prepared Wine prefix (wineboot done, Windows version set to 10) kept in the folder named by
/// <see cref="Variable"/> (build.ps1 Test: out/wine/prefixes) and copied for every
/// <see cref="WineAgent"/>. wineboot of a fresh prefix took 26 s at the load of a CI run and a
/// run starts several agents; a copy with its large binaries hard-linked takes about a second.
/// Without the variable every agent boots its own prefix, as before.
/// </summary>
internal static class WinePrefixCache
{
    public const string Variable = "QEMUGUEST_WINE_PREFIX_CACHE";

    /// <summary>
    /// Bumped when <see cref="WineAgent"/> prepares a prefix differently, so that an old cache
    /// is not used for the new recipe.
    /// </summary>
    private const int Recipe = 1;

    /// <summary>
    /// Files at least this large under drive_c are Wine's DLLs and programs, which nothing
    /// writes to in place, so a hard link is safe; everything else (the registry files at the
    /// prefix's root, win.ini, users' folders) is copied, so that one agent's changes never
    /// reach the cache or another agent.
    /// </summary>
    private const long HardLinkFrom = 256 * 1024;

    /// <summary>
    /// Fills <paramref name="prefix"/> (which must not exist) from the cache, preparing the
    /// cache first with <paramref name="prepare"/> when it has no prefix for this Wine version.
    /// Returns false when no cache is configured: the caller prepares the prefix itself.
    /// </summary>
    public static bool TryCopyInto(string prefix, Action<string> prepare)
    {
        string? cache = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(cache))
        {
            return false;
        }

        Directory.CreateDirectory(cache);
        string ready = Path.Combine(cache, "prefix-" + WineVersion() + "-recipe" + Recipe);
        if (!File.Exists(Path.Combine(ready, ".qemuguest-ready")))
        {
            // Prepared under a unique name and renamed, so that two test processes starting at
            // once never use a half-prepared prefix; the slower one's copy is dropped.
            string building = Path.Combine(cache, "building-" + Guid.NewGuid().ToString("n"));
            try
            {
                prepare(building);
                File.WriteAllText(Path.Combine(building, ".qemuguest-ready"), "");
                try
                {
                    Directory.Move(building, ready);
                }
                catch (IOException) when (File.Exists(Path.Combine(ready, ".qemuguest-ready")))
                {
                }
            }
            finally
            {
                if (Directory.Exists(building))
                {
                    Directory.Delete(building, recursive: true);
                }
            }
        }

        CopyTree(ready, prefix, underDriveC: false);
        File.Delete(Path.Combine(prefix, ".qemuguest-ready"));
        return true;
    }

    private static void CopyTree(string from, string to, bool underDriveC)
    {
        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            string target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                // dosdevices: c: -> ../drive_c, z: -> /; kept as the links they are.
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo)
            {
                CopyTree(entry.FullName, target, underDriveC || entry.Name == "drive_c");
            }
            else if (entry is FileInfo file)
            {
                if (!(underDriveC && file.Length >= HardLinkFrom && HardLink(file.FullName, target) == 0))
                {
                    file.CopyTo(target);
                }
            }
        }
    }

    /// <summary>"wine-8.0__Debian_8.0_repack-4_" and the like: a Wine upgrade rewrites a prefix's DLLs, so each version gets its own.</summary>
    private static string WineVersion()
    {
        var psi = new ProcessStartInfo(WineAgent.Loader, "--version") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + WineAgent.Loader);
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            throw new TimeoutException(WineAgent.Loader + " --version did not answer within 60 s");
        }

        // "wine-8.0 (Debian 8.0~repack-4)": Debian's rebuilds of one upstream version differ too.
        var name = new System.Text.StringBuilder();
        foreach (char c in output.Result.Trim())
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '_');
        }

        if (name.Length == 0)
        {
            throw new InvalidOperationException(WineAgent.Loader + " --version printed nothing");
        }

        return name.ToString();
    }

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int HardLink(string oldPath, string newPath);
}
