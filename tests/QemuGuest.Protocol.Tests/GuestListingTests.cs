using System.Threading.Tasks;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// find's records through guest-exec (the stock-agent listing strategy) and the guest-path
/// rules Get-VMGuestChildItem and the copy rely on: every value is the guest's, so a lying one is
/// a named failure or an "unknown", never a crash or a wrong number.
/// </summary>
public class GuestListingTests
{
    [Fact]
    public async Task FindRecordsCarryTypeSizeModeAndTime()
    {
        var lister = FindLister.Parse("f 5 644 1700000000.25 a.txt\0d 4096 2755 1700000001 sub\0l 7 777 1700000002.1234567891 sub/link\0p 0 600 0 fifo with space\0", new GuestListingBudget());
        var top = await lister.ListAsync("/x", "", 1, default);
        Assert.Equal(3, top.Count);
        Assert.Equal(("a.txt", GuestEntryKind.File, 5L, 420, false), (top[0].Name, top[0].Kind, top[0].Size, top[0].Mode, top[0].IsLink));
        Assert.Equal(1_700_000_000_250_000_000L, top[0].LastWriteNanoseconds);
        Assert.Equal(("sub", GuestEntryKind.Directory, 0x5ED), (top[1].Name, top[1].Kind, top[1].Mode));
        Assert.Equal(("fifo with space", GuestEntryKind.Other, false), (top[2].Name, top[2].Kind, top[2].IsLink));
        var sub = await lister.ListAsync("/x/sub", "sub", 2, default);
        Assert.Single(sub);
        Assert.Equal(("link", GuestEntryKind.Other, true), (sub[0].Name, sub[0].Kind, sub[0].IsLink));
        // Fractions past nanoseconds are cut, not rounded into the next second.
        Assert.Equal(1_700_000_002_123_456_789L, sub[0].LastWriteNanoseconds);
    }

    [Theory]
    [InlineData("99999999999")]
    [InlineData("123456789012345678901234567890.5")]
    [InlineData("9223372037")]
    public async Task ATimeBeyond64BitNanosecondsIsUnknownNotAnError(string time)
    {
        var top = await FindLister.Parse("f 1 644 " + time + " late\0", new GuestListingBudget()).ListAsync("/x", "", 1, default);
        Assert.Null(Assert.Single(top).LastWriteNanoseconds);
    }

    [Theory]
    [InlineData("f 0 644 0\0")] // no path
    [InlineData("f x 644 0 a\0")] // size not a number
    [InlineData("f 99999999999999999999 644 0 a\0")] // size past 64 bits
    [InlineData("f 0 9z 0 a\0")] // mode not octal
    [InlineData("f 0 1234567 0 a\0")] // mode too long
    [InlineData("f 0 644 1e9 a\0")] // time not decimal seconds
    [InlineData("f 0 644 . a\0")]
    [InlineData("d sub\0")] // the old two-field record
    [InlineData("ff 0 644 0 a\0")]
    public void AMalformedRecordIsInvalidGuestListing(string output)
    {
        var ex = Assert.Throws<TransferException>(() => FindLister.Parse(output, new GuestListingBudget()));
        Assert.Equal(TransferFailureKind.InvalidGuestListing, ex.Kind);
        Assert.DoesNotContain('\0', ex.Message);
    }

    // find exits 1 having listed everything it could read: each folder it names in its complaints
    // is refused when the walk reaches it; the rest lists as usual.
    [Theory]
    [InlineData("find: '/x/sub': Permission denied\n")] // C locale
    [InlineData("find: \u2018/x/sub\u2019: Permission denied\n")] // UTF-8 locales
    public async Task AFolderFindCouldNotReadIsRefusedAndTheRestLists(string standardError)
    {
        var lister = FindLister.Parse("d 4096 0 1 sub\0f 1 644 1 a\0", new GuestListingBudget());
        var denied = FindLister.DeniedFolders(standardError, "/x");
        Assert.NotNull(denied);
        Assert.True(lister.Deny(denied!));
        Assert.Equal(2, (await lister.ListAsync("/x", "", 1, default)).Count);
        var ex = await Assert.ThrowsAsync<TransferException>(() => lister.ListAsync("/x/sub", "sub", 2, default));
        Assert.Equal((TransferFailureKind.PermissionDenied, "/x/sub"), (ex.Kind, ex.Target));
    }

    // A lying or unfamiliar complaint never turns a folder into an empty one: the listing fails
    // as a whole, as it did before find's complaints were read.
    [Theory]
    [InlineData("find: '/x/sub': Permission denied\nfind: '/x/other': No such file or directory\n")] // another complaint
    [InlineData("find: '/elsewhere/sub': Permission denied\n")] // outside the listed folder
    [InlineData("find: '/x/': Permission denied\n")] // below the root, but no name
    [InlineData("find: /x/sub: Permission denied\n")] // not quoted
    [InlineData("warning: '/x/sub': Permission denied\n")]
    [InlineData("")]
    public void AComplaintThatIsNotOnlyFoldersFindCouldNotReadIsNotRead(string standardError)
    {
        Assert.Null(FindLister.DeniedFolders(standardError, "/x"));
    }

    [Theory]
    [InlineData("find: '/x/full': Permission denied\n")] // find listed entries in it
    [InlineData("find: '/x/never': Permission denied\n")] // find did not list it
    [InlineData("find: '/x/a': Permission denied\n")] // a file
    public void AFolderClaimedUnreadableMustBeOneFindListedEmpty(string standardError)
    {
        var lister = FindLister.Parse("d 4096 755 1 full\0f 1 644 1 full/b\0f 1 644 1 a\0", new GuestListingBudget());
        Assert.False(lister.Deny(FindLister.DeniedFolders(standardError, "/x")!));
    }

    // The stock agent's stat of an item it may not open asks find -maxdepth 0 for "%y %s".
    [Theory]
    [InlineData("f 5", GuestEntryKind.File, 5L)]
    [InlineData("d 4096", GuestEntryKind.Directory, 0L)]
    [InlineData("p 0", GuestEntryKind.Other, 0L)]
    public void FindsStatementOfAnUnreadableItemGivesItsKindAndSize(string text, GuestEntryKind kind, long size)
    {
        var entry = GuestFs.ParseFindStat(text);
        Assert.NotNull(entry);
        Assert.Equal((kind, size), (entry!.Value.Kind, entry.Value.Size));
    }

    // Anything else leaves the agent's own refusal standing: a lie never becomes an item.
    [Theory]
    [InlineData("")]
    [InlineData("f")]
    [InlineData("f ")]
    [InlineData("f -5")] // a negative size
    [InlineData("f +5")]
    [InlineData("f 99999999999999999999")] // past 64 bits
    [InlineData("f 5\nd 0")] // two records
    [InlineData("f 5 ")]
    [InlineData("f  5")]
    [InlineData("ff 5")]
    [InlineData("Z 5")] // not a type find prints
    [InlineData("f \u0665")] // a digit, but not an ASCII one
    [InlineData("f 0x10")]
    public void ALyingStatementOfAnUnreadableItemIsNotBelieved(string text)
    {
        Assert.Null(GuestFs.ParseFindStat(System.Text.RegularExpressions.Regex.Unescape(text)));
    }

    [Theory]
    [InlineData("/", true)]
    [InlineData("/etc/hostname", true)]
    [InlineData("C:\\Windows", true)]
    [InlineData("c:/Windows", true)]
    [InlineData("\\\\server\\share", true)]
    [InlineData("etc/hostname", false)]
    [InlineData("./x", false)]
    [InlineData("..", false)]
    [InlineData("C:relative", false)]
    [InlineData("", false)]
    [InlineData("~/x", false)]
    public void OnlyAnAbsoluteGuestPathIsAbsolute(string path, bool absolute)
    {
        Assert.Equal(absolute, GuestTransferEngine.IsAbsolute(path));
    }

    [Theory]
    [InlineData("a.txt", false, true)]
    [InlineData("esc\u001b]0;x\u0007", false, true)] // a legal Linux name: raw in the object, escaped on the console
    [InlineData("a\\b", false, true)]
    [InlineData("a\\b", true, false)]
    [InlineData("..", false, false)]
    [InlineData(".", false, false)]
    [InlineData("", false, false)]
    [InlineData("../../x", false, false)]
    [InlineData("a\0b", false, false)]
    public void AListedNameGetsAFullNameOnlyWhenItNamesThatItem(string name, bool windowsGuest, bool joinable)
    {
        Assert.Equal(joinable, GuestChildItems.ComponentProblem(name, windowsGuest) is null);
    }
}
