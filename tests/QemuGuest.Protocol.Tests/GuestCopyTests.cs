using System;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// <see cref="GuestCopy"/> on its own, no PowerShell, against Debian's qemu-ga: folder trees
/// both ways, one failed item that does not end the copy, and a caller that declines every
/// change (-WhatIf) leaving nothing behind.
/// </summary>
public sealed class GuestCopyTests : IClassFixture<QemuGaFixture>, IDisposable
{
    private readonly GuestFolderPair _folders;
    private readonly string _local;
    private readonly string _guest;

    public GuestCopyTests(QemuGaFixture qga)
    {
        _folders = new GuestFolderPair(qga, "copy", createGuest: true);
        _local = _folders.Local;
        _guest = _folders.Guest;
    }

    public void Dispose() => _folders.Dispose();

    private Task<CopyRecorder> CopyAsync(GuestCopyRequest request, bool consent = true, bool whatIf = false) =>
        _folders.WithEngineAsync(async engine =>
        {
            var recorder = new CopyRecorder(consent) { WhatIf = whatIf };
            await GuestCopy.RunAsync(engine, request, recorder, GuestFolderPair.Ct);
            return recorder;
        });

    private static string[] Tree(string root) => GuestFolderPair.Tree(root);

    [Fact]
    public async Task A_folder_tree_goes_in_and_comes_back_the_same()
    {
        string tree = Path.Combine(_local, "site");
        Directory.CreateDirectory(Path.Combine(tree, "css", "deep"));
        Directory.CreateDirectory(Path.Combine(tree, "empty"));
        File.WriteAllText(Path.Combine(tree, "index.html"), "<h1>hi</h1>");
        File.WriteAllText(Path.Combine(tree, "css", "a.css"), "a{}");
        File.WriteAllText(Path.Combine(tree, "css", "deep", "b.css"), "b{}");

        var up = new GuestCopyRequest { ToGuest = true, Recurse = true, Destination = Path.Combine(_guest, "site"), Options = { Verify = true } };
        up.LocalSources.Add(new GuestCopySource(tree, isDirectory: true));
        CopyRecorder wrote = await CopyAsync(up);

        Assert.Empty(wrote.Failures);
        Assert.Equal(Tree(tree), Tree(Path.Combine(_guest, "site")));
        Assert.Equal(3, wrote.Files.Count);
        Assert.All(wrote.Files, f => Assert.True(f.ToGuest && f.Result.Hash is not null && f.Result.Atomic));
        Assert.Contains("qga:" + Path.Combine(_guest, "site", "css", "deep"), wrote.Asked.Keys);

        string back = Path.Combine(_local, "back");
        var down = new GuestCopyRequest { ToGuest = false, Recurse = true, Destination = back };
        down.GuestSources.Add(Path.Combine(_guest, "site"));
        CopyRecorder read = await CopyAsync(down);

        Assert.Empty(read.Failures);
        Assert.Equal(Tree(tree), Tree(back));
        Assert.All(read.Files, f => Assert.False(f.ToGuest));
    }

    [Fact]
    public async Task One_failed_item_is_reported_and_the_others_are_copied()
    {
        File.WriteAllText(Path.Combine(_local, "one.txt"), "new one");
        File.WriteAllText(Path.Combine(_local, "two.txt"), "new two");
        File.WriteAllText(Path.Combine(_guest, "one.txt"), "old one");

        var up = new GuestCopyRequest { ToGuest = true, Destination = _guest + "/" };
        up.LocalSources.Add(new GuestCopySource(Path.Combine(_local, "one.txt"), isDirectory: false));
        up.LocalSources.Add(new GuestCopySource(Path.Combine(_local, "two.txt"), isDirectory: false));
        CopyRecorder r = await CopyAsync(up);

        var (failure, target) = Assert.Single(r.Failures);
        Assert.Equal(TransferFailureKind.DestinationExists, Assert.IsType<TransferException>(failure).Kind);
        Assert.Equal(Path.Combine(_guest, "one.txt"), target);
        Assert.Equal("old one", File.ReadAllText(Path.Combine(_guest, "one.txt")));
        Assert.Equal("new two", File.ReadAllText(Path.Combine(_guest, "two.txt")));
        Assert.Equal(Path.Combine(_guest, "two.txt"), Assert.Single(r.Files).Destination);
    }

    [Fact]
    public async Task A_caller_that_declines_every_change_finds_nothing_written()
    {
        string tree = Path.Combine(_local, "t");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.WriteAllText(Path.Combine(tree, "sub", "f.txt"), "f");
        File.WriteAllText(Path.Combine(_guest, "g.txt"), "g");

        var up = new GuestCopyRequest { ToGuest = true, Recurse = true, Destination = Path.Combine(_guest, "t") };
        up.LocalSources.Add(new GuestCopySource(tree, isDirectory: true));
        CopyRecorder upAsked = await CopyAsync(up, consent: false);

        var down = new GuestCopyRequest { ToGuest = false, Destination = Path.Combine(_local, "out") + "/", Options = { Force = true } };
        down.GuestSources.Add(Path.Combine(_guest, "g.txt"));
        CopyRecorder downAsked = await CopyAsync(down, consent: false);

        Assert.False(Directory.Exists(Path.Combine(_guest, "t")));
        Assert.False(Directory.Exists(Path.Combine(_local, "out")));
        Assert.Equal("Create guest folder", upAsked.Asked["qga:" + Path.Combine(_guest, "t")]);
        Assert.Equal("Create local folder", downAsked.Asked[Path.Combine(_local, "out") + "/"]);
        Assert.Empty(upAsked.Files);
        Assert.Empty(downAsked.Files);
    }

    /// <summary>
    /// Before, -WhatIf asked about the new root folder, heard "no" and returned: none of the
    /// files below it was shown. Now every folder and file is asked about, both ways, and still
    /// nothing is written.
    /// </summary>
    [Fact]
    public async Task WhatIf_asks_about_every_item_of_a_recursive_copy_and_writes_nothing()
    {
        string tree = Path.Combine(_local, "w");
        Directory.CreateDirectory(Path.Combine(tree, "sub", "deeper"));
        File.WriteAllText(Path.Combine(tree, "top.txt"), "t");
        File.WriteAllText(Path.Combine(tree, "sub", "f.txt"), "f");
        File.WriteAllText(Path.Combine(tree, "sub", "deeper", "d.txt"), "d");
        string guestTree = Path.Combine(_guest, "gw");
        Directory.CreateDirectory(Path.Combine(guestTree, "sub"));
        File.WriteAllText(Path.Combine(guestTree, "a.txt"), "a");
        File.WriteAllText(Path.Combine(guestTree, "sub", "b.txt"), "b");

        var up = new GuestCopyRequest { ToGuest = true, Recurse = true, Destination = Path.Combine(_guest, "w") };
        up.LocalSources.Add(new GuestCopySource(tree, isDirectory: true));
        CopyRecorder upAsked = await CopyAsync(up, consent: false, whatIf: true);

        var down = new GuestCopyRequest { ToGuest = false, Recurse = true, Destination = Path.Combine(_local, "down") };
        down.GuestSources.Add(guestTree);
        CopyRecorder downAsked = await CopyAsync(down, consent: false, whatIf: true);

        string g = "qga:" + Path.Combine(_guest, "w");
        Assert.Equal(
            new[] { g, g + "/sub", g + "/sub/deeper", g + "/sub/deeper/d.txt", g + "/sub/f.txt", g + "/top.txt" },
            upAsked.Asked.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
        string l = Path.Combine(_local, "down");
        Assert.Equal(
            new[] { l, l + "/a.txt", l + "/sub", l + "/sub/b.txt" },
            downAsked.Asked.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray());
        Assert.False(Directory.Exists(Path.Combine(_guest, "w")));
        Assert.False(Directory.Exists(l));
        Assert.Empty(upAsked.Files);
        Assert.Empty(downAsked.Files);
        Assert.Empty(upAsked.Failures);
        Assert.Empty(downAsked.Failures);
        // Into the guest the tree is counted before the first byte: 3 files, 3 bytes.
        Assert.Equal((3, 3L), upAsked.Plan);
        Assert.Null(downAsked.Plan);
    }
}
