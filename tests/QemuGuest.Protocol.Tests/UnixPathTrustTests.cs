using System;
using System.Diagnostics;
using System.IO;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Tests;

/// <summary>UnixPathTrust on real files: links, foreign owners (chown to nobody: run as root), modes, parents.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnixPathTrustTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _root = Path.Combine("/tmp", "qgt-" + Guid.NewGuid().ToString("N").Substring(0, 10));

    public UnixPathTrustTests()
    {
        Directory.CreateDirectory(_root);
        File.SetUnixFileMode(_root, Private);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Own_private_folder_under_sticky_tmp_is_trusted()
    {
        var t = UnixPathTrust.Check(_root, TrustedPathKind.PrivateDirectory);
        Assert.Equal(PathTrustVerdict.Trusted, t.Verdict);
    }

    [Fact]
    public void A_link_is_untrusted_even_to_a_trusted_folder()
    {
        string link = Path.Combine(_root, "link");
        File.CreateSymbolicLink(link, _root);
        var t = UnixPathTrust.Check(link + "/", TrustedPathKind.PrivateDirectory);
        Assert.Equal(PathTrustVerdict.Untrusted, t.Verdict);
        Assert.Equal(link, t.Path);
        Assert.Contains("symbolic link", t.Reason);
    }

    [Fact]
    public void A_foreign_owner_is_untrusted_unless_named()
    {
        string d = Path.Combine(_root, "d");
        Directory.CreateDirectory(d, Private);
        Chown(d, "nobody");
        var t = UnixPathTrust.Check(d, TrustedPathKind.PrivateDirectory);
        Assert.Equal(PathTrustVerdict.Untrusted, t.Verdict);
        Assert.Contains("owned by nobody (uid 65534)", t.Reason);
        Assert.True(UnixPathTrust.Check(d, TrustedPathKind.PrivateDirectory, new[] { UnixPathTrust.ResolveOwner("nobody")!.Value }).IsTrusted);
    }

    [Theory]
    [InlineData(TrustedPathKind.PrivateDirectory, 0x1ED, false)] // 0755
    [InlineData(TrustedPathKind.Directory, 0x1ED, true)] // 0755: readable, not writable
    [InlineData(TrustedPathKind.Directory, 0x1FD, false)] // 0775
    [InlineData(TrustedPathKind.Directory, 0x3FF, true)] // 01777, sticky like /tmp
    public void Group_and_other_bits(TrustedPathKind kind, int mode, bool trusted)
    {
        string d = Path.Combine(_root, "m");
        Directory.CreateDirectory(d);
        File.SetUnixFileMode(d, (UnixFileMode)mode);
        Assert.Equal(trusted, UnixPathTrust.Check(d, kind).IsTrusted);
    }

    [Fact]
    public void A_socket_below_a_folder_others_may_write_is_untrusted_and_the_folder_is_named()
    {
        string shared = Path.Combine(_root, "shared");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, (UnixFileMode)0x1FF);
        string inner = Path.Combine(shared, "inner");
        Directory.CreateDirectory(inner, Private);
        string sock = Path.Combine(inner, "vm.sock");
        File.WriteAllText(sock, "");
        var t = UnixPathTrust.Check(sock, TrustedPathKind.Socket);
        Assert.Equal(PathTrustVerdict.Untrusted, t.Verdict);
        Assert.Equal(shared, t.Path);
    }

    [Fact]
    public void A_folder_reached_through_a_link_is_judged_where_the_link_leads()
    {
        string outer = Path.Combine(_root, "outer");
        string foreign = Path.Combine(outer, "foreign");
        Directory.CreateDirectory(foreign, Private);
        File.WriteAllText(Path.Combine(foreign, "vm.sock"), "");
        Chown(foreign, "nobody");
        string via = Path.Combine(_root, "via");
        File.CreateSymbolicLink(via, outer);
        var t = UnixPathTrust.Check(Path.Combine(via, "foreign", "vm.sock"), TrustedPathKind.Socket);
        Assert.Equal(PathTrustVerdict.Untrusted, t.Verdict);
        Assert.Equal(Path.Combine(via, "foreign"), t.Path);
        Assert.Contains("owned by nobody", t.Reason);
    }

    [Fact]
    public void The_folder_a_socket_is_looked_up_in_must_not_be_a_link()
    {
        string real = Path.Combine(_root, "real");
        Directory.CreateDirectory(real, Private);
        File.WriteAllText(Path.Combine(real, "vm.sock"), "");
        string via = Path.Combine(_root, "via");
        File.CreateSymbolicLink(via, real);
        Assert.True(UnixPathTrust.Check(Path.Combine(real, "vm.sock"), TrustedPathKind.Socket).IsTrusted);
        var t = UnixPathTrust.Check(Path.Combine(via, "vm.sock"), TrustedPathKind.Socket);
        Assert.Equal(PathTrustVerdict.Untrusted, t.Verdict);
        Assert.Equal(via, t.Path);
        Assert.Contains("symbolic link", t.Reason);
    }

    [Fact]
    public void Missing_is_reported_not_judged()
    {
        Assert.Equal(PathTrustVerdict.Missing, UnixPathTrust.Check(Path.Combine(_root, "none", "x.sock"), TrustedPathKind.Socket).Verdict);
    }

    [Fact]
    public void Owner_names_and_uids_resolve()
    {
        Assert.Equal(0u, UnixPathTrust.ResolveOwner("root"));
        Assert.Equal(65534u, UnixPathTrust.ResolveOwner("nobody"));
        Assert.Equal(1234u, UnixPathTrust.ResolveOwner("1234"));
        Assert.Null(UnixPathTrust.ResolveOwner("no-such-user-qg"));
    }

    internal static void Chown(string path, string user)
    {
        using var p = Process.Start(new ProcessStartInfo("chown", new[] { "-h", user, path }) { UseShellExecute = false })!;
        p.WaitForExit(10000);
        Assert.True(p.ExitCode == 0, "chown needs root: these tests plant files owned by another user");
    }
}
