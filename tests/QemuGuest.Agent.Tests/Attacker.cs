using System;
using System.Diagnostics;
using System.IO;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// An unprivileged guest user (created with useradd) and root-owned scratch targets: the cast
/// of the attacks on a root agent. Shell steps run as the user through setpriv, so every link
/// and file the "attacker" plants really is theirs.
/// </summary>
internal static class Attacker
{
    public const string Name = "qgaattacker";

    private static readonly object Gate = new();

    public static (uint Uid, uint Gid, string Home) Ensure()
    {
        lock (Gate)
        {
            if (Sh("id -u " + Name).Code != 0)
            {
                var r = Sh("useradd -m -s /bin/sh " + Name);
                if (r.Code != 0 && Sh("id -u " + Name).Code != 0)
                {
                    throw new InvalidOperationException("useradd failed: " + r.Output);
                }
            }

            uint uid = uint.Parse(Sh("id -u " + Name).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            uint gid = uint.Parse(Sh("id -g " + Name).Output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
            string home = "/home/" + Name;
            Sh("mkdir -p " + home + " && chown " + Name + ": " + home + " && chmod 0755 " + home);
            return (uid, gid, home);
        }
    }

    /// <summary>Runs a shell line as the guest user; throws when it fails.</summary>
    public static void As(string script)
    {
        var (uid, gid, _) = Ensure();
        var r = Run("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--", "sh", "-c", script);
        if (r.Code != 0)
        {
            throw new InvalidOperationException("as " + Name + ": " + script + ": " + r.Output);
        }
    }

    public static (int Code, string Output) Sh(string script) => Run("sh", "-c", script);

    public static (int Code, string Output) Run(string file, params string[] args) => Run(TimeSpan.FromSeconds(30), file, args);

    public static (int Code, string Output) Run(TimeSpan timeout, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            throw new TimeoutException(file + " " + string.Join(' ', args) + " did not end within " + timeout.TotalSeconds + " s");
        }

        return (p.ExitCode, o.Result + e.Result);
    }

    /// <summary>A root-owned file (or folder) the attacker aims at; its owner, mode and bytes must never change.</summary>
    public sealed class Target : IDisposable
    {
        public Target(bool folder = false, UnixFileMode mode = (UnixFileMode)0x180)
        {
            Path = "/etc/qga-agentsafe-" + Guid.NewGuid().ToString("N")[..12];
            if (folder)
            {
                Directory.CreateDirectory(Path);
                File.WriteAllText(System.IO.Path.Combine(Path, "keep"), "keep\n");
            }
            else
            {
                File.WriteAllText(Path, "root secret\n");
            }

            File.SetUnixFileMode(Path, mode);
            Mode = mode;
        }

        public string Path { get; }

        public UnixFileMode Mode { get; }

        /// <summary>Owner, mode and content as they were made.</summary>
        public void AssertUntouched()
        {
            var (code, output) = Sh("stat -c '%u:%g' " + Path);
            Assert.Equal(0, code);
            Assert.Equal("0:0", output.Trim());
            Assert.Equal(Mode, File.GetUnixFileMode(Path));
            if (Directory.Exists(Path))
            {
                Assert.Equal(new[] { System.IO.Path.Combine(Path, "keep") }, Directory.GetFileSystemEntries(Path));
                Assert.Equal("keep\n", File.ReadAllText(System.IO.Path.Combine(Path, "keep")));
            }
            else
            {
                Assert.Equal("root secret\n", File.ReadAllText(Path));
            }
        }

        public void Dispose()
        {
            if (Directory.Exists(Path))
            {
                Directory.Delete(Path, recursive: true);
            }
            else
            {
                File.Delete(Path);
            }
        }
    }
}
