using QemuGuest.Protocol.Validation;

namespace QemuGuest.Protocol.Tests;

/// <summary>The one check of a guest-supplied name (issue 15 item 1), as the relay and the cmdlets use it.</summary>
public class PathComponentTests
{
    [Theory]
    [InlineData("", "is empty")]
    [InlineData(".", "is '.'")]
    [InlineData("..", "is '..'")]
    [InlineData("../x", "contains '/'")]
    [InlineData("/etc/cron.d/x", "contains '/'")]
    [InlineData("lnk\\..\\..\\tmp\\x", "contains '\\'")]
    [InlineData("a\0b", "contains NUL")]
    [InlineData("a\nb", "contains the control character U+000A")]
    [InlineData("\u001b[2J", "contains the control character U+001B")]
    [InlineData("a\u007fb", "contains the control character U+007F")]
    [InlineData("a\u009bb", "contains the control character U+009B")]
    public void Rejects_names_that_are_not_one_component(string name, string reason)
    {
        Assert.Equal(reason, PathComponent.Problem(name));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("...")]
    [InlineData("..a")]
    [InlineData(".bashrc")]
    [InlineData("report 12:00.txt")]
    [InlineData("Ærø ✓ 日本 😀")]
    public void Accepts_ordinary_names(string name)
    {
        Assert.Null(PathComponent.Problem(name));
    }

    [Fact]
    public void Rejects_null_and_overlong_names()
    {
        Assert.Equal("is missing", PathComponent.Problem(null));
        Assert.Null(PathComponent.Problem(new string('a', PathComponent.MaxLength)));
        Assert.Equal("is longer than 1024 characters", PathComponent.Problem(new string('a', PathComponent.MaxLength + 1)));
    }

    [Fact]
    public void Printable_escapes_controls_backslash_quotes_and_lone_surrogates_and_clips()
    {
        Assert.Equal("a\\u001b]52;c;x\\u0007", PathComponent.Printable("a\u001b]52;c;x\u0007"));
        Assert.Equal("lnk\\\\..\\\\x", PathComponent.Printable("lnk\\..\\x"));
        Assert.Equal("\\'\\\"", PathComponent.Printable("'\""));
        Assert.Equal("a\\ud800b", PathComponent.Printable("a\ud800b"));
        Assert.Equal("😀", PathComponent.Printable("😀"));
        Assert.Equal("aaaa...", PathComponent.Printable("aaaaaaaa", 4));
        Assert.Equal("(null)", PathComponent.Printable(null));
    }
}
