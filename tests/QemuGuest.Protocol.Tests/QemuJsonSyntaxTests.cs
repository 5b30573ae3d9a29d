using System.Text;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// QEMU's first syntax error for a framed message. Expected texts are qemu-ga 7.2's replies,
/// probed over its socket today (the agent's DifferentialTests.SameReply holds the agent to
/// them against the real qemu-ga).
/// </summary>
public class QemuJsonSyntaxTests
{
    [Theory]
    [InlineData("[32,}", "expecting value")]
    [InlineData("{'abc':32,}", "expecting value")]
    [InlineData("{32:'abc'}", "key is not a string in object")]
    [InlineData("{\"a\" 1}", "missing : in object pair")]
    [InlineData("{\"a\":}", "expecting value")]
    [InlineData("{,}", "expecting value")]
    [InlineData("[1 2]", "expected separator in list")]
    [InlineData("{\"a\":1 \"b\":2}", "expected separator in dict")]
    [InlineData("{\"a\":tru}", "invalid keyword 'tru'")]
    [InlineData("truer", "invalid keyword 'truer'")]
    [InlineData("{\"a\":True}", "stray 'T'")]
    [InlineData("{\"a\":-}", "stray '-}'")]
    [InlineData("{\"a\":01}", "stray '01'")]
    [InlineData("[00]", "stray '00'")]
    [InlineData("[1.]", "stray '1.]'")]
    [InlineData("[1e+]", "stray '1e+]'")]
    [InlineData("[+1]", "stray '+'")]
    [InlineData("[.5]", "stray '.'")]
    [InlineData("{\"a\":\"\\x\"}", "invalid escape sequence in string")]
    [InlineData("{\"a\":\"\\u12\"}", "\\u12\" is not a valid Unicode character")]
    [InlineData("{\"a\":1,\"a\":2}", "duplicate key")]
    [InlineData("{\"a\":{]}", "expecting value")]
    public void First_error_in_qemus_words(string message, string expected)
    {
        Assert.Equal(expected, QemuJsonSyntax.FirstError(Encoding.ASCII.GetBytes(message)));
    }

    [Theory]
    // What QEMU would only know from the byte after the message, or would split into several
    // messages: nothing to say, the caller keeps its own text.
    [InlineData("1.")]
    [InlineData("0x10")]
    [InlineData("{\"a\":[1,-2.5e+3,0,true,null,\"\\u00e9\\/\"],\"b\":{}}")]
    public void Nothing_to_say_about_valid_json_or_what_qemu_would_split(string message)
    {
        Assert.Null(QemuJsonSyntax.FirstError(Encoding.ASCII.GetBytes(message)));
    }

    [Fact]
    public void Property_valid_values_have_no_error_and_garbage_never_throws()
    {
        ReaderBoundsTests.QObject.Sample(value => Assert.Null(QemuJsonSyntax.FirstError(Encoding.UTF8.GetBytes(value))), iter: 2000);
        byte[] alphabet = Encoding.ASCII.GetBytes("{}[]:,\"'ae1-+.E0\\ utrx");
        Gen.Int[0, alphabet.Length - 1].Select(i => alphabet[i]).Array[0, 60]
            .Sample(bytes => _ = QemuJsonSyntax.FirstError(bytes), iter: 20000);
        Gen.Byte.Array[0, 100].Sample(bytes => _ = QemuJsonSyntax.FirstError(bytes), iter: 5000);
    }
}
