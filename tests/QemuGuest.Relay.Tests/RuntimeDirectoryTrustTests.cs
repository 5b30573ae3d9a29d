using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;
using QemuGuest.Relay.Tests.Fixtures;

namespace QemuGuest.Relay.Tests;

/// <summary>
/// Issue 15 item 7: whoever owns the relay's runtime directory, a folder above it, or a
/// discovery folder could swap the sockets and impersonate the relay (to clients) or a VM (to
/// the relay). Each test plants what such a user would plant, for real: links, folders and
/// sockets owned by "nobody", group/other-writable folders. Run as root (chown needs it).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class RuntimeDirectoryTrustTests
{
    private const string Foreign = "nobody";

    [Fact]
    public async Task A_runtime_directory_that_is_a_link_is_refused_and_the_linked_folder_is_left_alone()
    {
        // Before: the relay created (existing: kept) the directory, chmod-ed it 0700 *through*
        // the link and put control.sock and every VM socket into the link owner's folder.
        using var dir = new TempDir();
        string evil = dir["evil"];
        Directory.CreateDirectory(evil);
        Chown(evil, Foreign);
        File.SetUnixFileMode(evil, (UnixFileMode)0x1FF);
        File.CreateSymbolicLink(dir["rt"], evil);

        var (code, text) = await RunRelayAsync(dir, dir["rt"]);

        Assert.Equal(3, code);
        Assert.Contains(dir["rt"], text);
        Assert.Contains("symbolic link", text);
        Assert.DoesNotContain("   at ", text); // one line, no stack trace
        Assert.Equal((UnixFileMode)0x1FF, File.GetUnixFileMode(evil));
        Assert.Empty(Directory.GetFileSystemEntries(evil));
    }

    [Theory]
    [InlineData("foreign-owner")]
    [InlineData("group-bits")]
    [InlineData("parent-writable")]
    public async Task An_untrusted_runtime_directory_is_refused_with_the_path_and_the_reason(string how)
    {
        using var dir = new TempDir();
        string rt = dir["rt"];
        string offender = rt;
        string reason;
        switch (how)
        {
            case "foreign-owner":
                Directory.CreateDirectory(rt, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                Chown(rt, Foreign);
                reason = "is owned by nobody";
                break;
            case "group-bits":
                Directory.CreateDirectory(rt);
                File.SetUnixFileMode(rt, (UnixFileMode)0x1E8); // 0750
                reason = "has mode 0750";
                break;
            default:
                // Not created yet, but whoever can write the folder above could rename it later.
                offender = dir["shared"];
                Directory.CreateDirectory(offender);
                File.SetUnixFileMode(offender, (UnixFileMode)0x1FF); // 0777, no sticky bit
                rt = Path.Combine(offender, "rt");
                reason = "has mode 0777: writable by group or others";
                break;
        }

        var (code, text) = await RunRelayAsync(dir, rt);

        Assert.Equal(3, code);
        Assert.Contains(offender + ": " + reason, text);
        Assert.False(File.Exists(Path.Combine(rt, "control.sock")));
    }

    [Fact]
    public async Task A_fresh_runtime_directory_under_a_sticky_tmp_is_created_0700_and_served()
    {
        using var dir = new TempDir();
        using var relay = await RelayProcess.StartAsync(dir, _ => { });
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(relay.RuntimeDirectory));
        using var list = await relay.ControlAsync("relay-list-vms");
        Assert.False(relay.Process.HasExited, relay.Output);
    }

    internal static void Chown(string path, string user)
    {
        using var p = Process.Start(new ProcessStartInfo("chown", new[] { "-h", user, path }) { UseShellExecute = false })!;
        p.WaitForExit(10000);
        Assert.True(p.ExitCode == 0, "chown needs root: these tests plant files owned by another user");
    }

    private static async Task<(int Code, string Text)> RunRelayAsync(TempDir dir, string runtimeDirectory)
    {
        string config = dir["relay.json"];
        await File.WriteAllTextAsync(config, "{\"Relay\": {\"RuntimeDirectory\": \"" + runtimeDirectory + "\"}}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(RelayProcess.RelayDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(config);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(30000))
        {
            p.Kill();
            Assert.Fail("the relay started on an untrusted runtime directory instead of refusing:\n" + await stdout);
        }

        return (p.ExitCode, await stderr + await stdout);
    }
}
