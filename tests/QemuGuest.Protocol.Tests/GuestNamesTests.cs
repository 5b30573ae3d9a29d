using System;
using System.IO;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>The one check every name from a guest listing passes before it becomes a host path (issue 15).</summary>
public class GuestNamesTests
{
    [Theory]
    [InlineData("a.txt")]
    [InlineData("no extension")]
    [InlineData("ünïcödé ✓")]
    [InlineData("..hidden")]
    [InlineData("...")]
    [InlineData("a:b")] // a legal Linux name; only Windows reads it as a stream
    [InlineData("CON")]
    [InlineData("trailing.")]
    public void OneComponentIsAccepted(string name)
    {
        Assert.Null(GuestNames.Problem(name, windowsRules: false));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData(".", "is '.'")]
    [InlineData("..", "is '..'")]
    [InlineData("../../x", "contains '/'")]
    [InlineData("/etc/cron.d/x", "contains '/'")]
    [InlineData("a\\b", "contains '\\'")]
    [InlineData("lnk\\..\\..\\..\\tmp\\x", "contains '\\'")]
    [InlineData("a\0b", "contains NUL")]
    [InlineData("esc\u001b]0;title\u0007", "control character U+001B")]
    [InlineData("line\nbreak", "control character U+000A")]
    [InlineData("del\u007f", "control character U+007F")]
    public void AnythingElseIsRefusedWithItsReason(string name, string reason)
    {
        Assert.Contains(reason, GuestNames.Problem(name, windowsRules: false));
        Assert.Contains(reason, GuestNames.Problem(name, windowsRules: true));
    }

    [Theory]
    [InlineData("C:", "reserves")]
    [InlineData("file.txt:stream", "reserves")]
    [InlineData("what?", "reserves")]
    [InlineData("trailing.", "ends with a dot")]
    [InlineData("trailing ", "dot or space")]
    [InlineData("CON", "device name")]
    [InlineData("con.txt", "device name")]
    [InlineData("LPT1", "device name")]
    [InlineData("nul .tar.gz", "device name")]
    public void WindowsRulesRefuseWhatWindowsWouldReinterpret(string name, string reason)
    {
        Assert.Contains(reason, GuestNames.Problem(name, windowsRules: true));
    }

    [Fact]
    public void JoinUnderKeepsEveryTargetStrictlyBelowTheRoot()
    {
        string root = Path.Combine(Path.GetTempPath(), "qg-root");
        Assert.Equal(Path.Combine(root, "sub", "a.txt"), GuestNames.JoinUnder(root, Path.Combine(root, "sub"), "a.txt"));
        Assert.Null(GuestNames.JoinUnder(root, root, ".."));
        Assert.Null(GuestNames.JoinUnder(root, root, "../../x"));
        Assert.Null(GuestNames.JoinUnder(root, root, "/etc/cron.d/x"));
        Assert.Null(GuestNames.JoinUnder(root, root, "."));
        Assert.Null(GuestNames.JoinUnder(root, root + "-sibling", "x")); // a prefix is not a parent
    }

    [Fact]
    public void HostPathSeesLinksWithoutFollowingThem()
    {
        string dir = Path.Combine(Path.GetTempPath(), "qg-names-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "f"), "x");
            Directory.CreateDirectory(Path.Combine(dir, "d"));
            File.CreateSymbolicLink(Path.Combine(dir, "to-d"), Path.Combine(dir, "d"));
            File.CreateSymbolicLink(Path.Combine(dir, "dangling"), Path.Combine(dir, "nowhere"));
            Assert.Equal(HostEntryKind.File, HostPath.Inspect(Path.Combine(dir, "f")));
            Assert.Equal(HostEntryKind.Directory, HostPath.Inspect(Path.Combine(dir, "d")));
            Assert.Equal(HostEntryKind.Link, HostPath.Inspect(Path.Combine(dir, "to-d")));
            Assert.Equal(HostEntryKind.Link, HostPath.Inspect(Path.Combine(dir, "dangling")));
            Assert.Equal(HostEntryKind.None, HostPath.Inspect(Path.Combine(dir, "none")));
            Assert.Equal(HostEntryKind.None, HostPath.Inspect(Path.Combine(dir, "none", "deeper")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BudgetStopsDepthEntriesPathLengthTotalAndPages()
    {
        var depth = new GuestListingBudget();
        depth.AddEntry("a", 64);
        Assert.Equal(TransferFailureKind.ListingLimitExceeded, Assert.Throws<TransferException>(() => depth.AddEntry("a", 65)).Kind);

        var entries = new GuestListingBudget { MaxEntries = 3 };
        for (int i = 0; i < 3; i++)
        {
            entries.AddEntry("e" + i, 1);
        }
        Assert.Contains("more than 3 entries", Assert.Throws<TransferException>(() => entries.AddEntry("e3", 1)).Message);

        var length = new GuestListingBudget();
        length.AddEntry(new string('x', 4096), 1);
        Assert.Throws<TransferException>(() => length.AddEntry(new string('x', 4097), 1));

        var total = new GuestListingBudget { MaxTotalChars = 10 };
        total.AddEntry("12345", 1);
        total.AddEntry("12345", 1);
        Assert.Throws<TransferException>(() => total.AddEntry("1", 1));

        var pages = new GuestListingBudget { MaxPages = 2 };
        pages.AddPage("/f");
        pages.AddPage("/f");
        var ex = Assert.Throws<TransferException>(() => pages.AddPage("/f\u001b" + new string('x', 1_000_000)));
        Assert.DoesNotContain("\u001b", ex.Message);
        Assert.True(ex.Message.Length < 400);
    }
}
