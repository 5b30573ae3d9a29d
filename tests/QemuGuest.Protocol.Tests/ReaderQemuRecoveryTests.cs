using System.Collections.Generic;
using System.Linq;
using System.Text;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// <see cref="JsonLimitRecovery.LikeQemu"/>, the agent's mode: after a limit, what is left of the
/// value is read as new input right after the offending token, as QEMU's json-streamer does
/// (the agent's DifferentialTests.LimitsGiveTheSameRepliesInTheSameNumber holds it against
/// qemu-ga at the real bounds); the size bound counts token bytes, not whitespace.
/// </summary>
public class ReaderQemuRecoveryTests
{
    private static JsonMessageReader Qemu(int maxBytes = 1 << 20, int maxDepth = 64, int maxTokens = 1000) =>
        new(maxBytes, maxDepth, maxTokens, JsonLimitRecovery.LikeQemu);

    private static List<string> Run(string text, int maxBytes = 1 << 20, int maxDepth = 64, int maxTokens = 1000) =>
        ReaderTests.Run(Qemu(maxBytes, maxDepth, maxTokens), Encoding.Latin1.GetBytes(text));

    private const string Close = "UnexpectedByte(0x5D)";

    [Fact]
    public void Too_deep_then_the_rest_is_read_as_new_input()
    {
        Assert.Equal(new[] { "TooDeep", "M:1", Close, Close, Close, Close, "M:{}" }, Run("[[[[1]]]]{}", maxDepth: 3));
    }

    [Theory]
    // The token that crosses the count is dropped whole (a string with brackets and an escaped
    // quote in it, a number), then reading goes on right after it.
    [InlineData("[1,2,3]{}", 4, new[] { "TooManyTokens", "M:3", Close, "M:{}" })]
    [InlineData("[\"a\",\"b]\\\"[\",\"c\"]{}", 3, new[] { "TooManyTokens", "UnexpectedByte(0x2C)", "M:\"c\"", Close, "M:{}" })]
    [InlineData("[1,234,5]{}", 3, new[] { "TooManyTokens", "UnexpectedByte(0x2C)", "M:5", Close, "M:{}" })]
    [InlineData("[1,2]{}", 4, new[] { "TooManyTokens", "M:{}" })]
    public void Too_many_tokens_drops_the_offending_token_only(string text, int maxTokens, string[] expected)
    {
        Assert.Equal(expected, Run(text, maxTokens: maxTokens));
    }

    [Theory]
    // { "a" : "12" } holds 10 token bytes: refused at a bound of 10, taken at 11; whitespace
    // between tokens does not count.
    [InlineData("{\"a\":\"12\"}", 10, new[] { "TooLarge" })]
    [InlineData("{\"a\":\"12\"}", 11, new[] { "M:{\"a\":\"12\"}" })]
    [InlineData("{ \"a\" :  \"12\" }", 11, new[] { "M:{ \"a\" :  \"12\" }" })]
    [InlineData("{\"a\":\"123456\"}{}", 10, new[] { "TooLarge", "UnexpectedByte(0x7D)", "M:{}" })]
    [InlineData("{\"a\":123456,\"b\":1}", 10, new[] { "TooLarge", "UnexpectedByte(0x2C)", "M:\"b\"", "UnexpectedByte(0x3A)", "M:1", "UnexpectedByte(0x7D)" })]
    public void Size_counts_token_bytes_and_resumes_after_the_token_that_crossed(string text, int maxBytes, string[] expected)
    {
        Assert.Equal(expected, Run(text, maxBytes: maxBytes));
    }

    [Fact]
    public void A_top_level_scalar_is_bounded_like_a_message()
    {
        // qemu-ga answers a 2,000-byte string with "QMP input must be a JSON object": the agent
        // needs the whole scalar to answer the same (the default mode stops at 1 KiB).
        string s = "\"" + new string('a', 2000) + "\"";
        Assert.Equal(new[] { "M:" + s }, Run(s));
        Assert.Equal(new[] { "TooLarge" }, ReaderTests.Run(new JsonMessageReader(1 << 20, 64), Encoding.ASCII.GetBytes(s)));
    }

    [Fact]
    public void Whitespace_is_stored_only_up_to_its_allowance()
    {
        // 1 MiB beyond the token bound (here the bound itself, 10): a flood of spaces inside a
        // value cannot grow the buffer without bound; it is refused where the next token starts,
        // and reading goes on from there, over any split of the input.
        Assert.Equal(new[] { "M:{\"a\":" + new string(' ', 5) + "1}" }, Run("{\"a\":" + new string(' ', 5) + "1}", maxBytes: 10));
        byte[] flood = Encoding.ASCII.GetBytes("{\"a\":" + new string(' ', 30) + "1}{}");
        var expected = new[] { "TooLarge", "M:1", "UnexpectedByte(0x7D)", "M:{}" };
        for (int cut = 1; cut < flood.Length; cut++)
        {
            Assert.Equal(expected, ReaderTests.Run(Qemu(10), flood, new[] { cut }));
        }
    }

    [Fact]
    public void Property_any_split_of_garbage_gives_the_same_results_as_no_split()
    {
        // Random bytes, and bytes from JSON's own alphabet (which build long values, deep
        // nesting and many tokens far more often).
        byte[] alphabet = Encoding.ASCII.GetBytes("{}[]:,\"'a1 \\").Concat(new byte[] { 0xFF, 0x01 }).ToArray();
        Gen<byte[]> input = Gen.OneOf(Gen.Byte.Array[0, 300], Gen.Int[0, alphabet.Length - 1].Select(i => alphabet[i]).Array[0, 300]);
        Gen.Select(input, Gen.Int[0, 400].Array[0, 20], Gen.Int[2, 40], Gen.Int[1, 5], Gen.Int[2, 12])
            .Sample((garbage, cuts, maxBytes, maxDepth, maxTokens) =>
            {
                var whole = ReaderTests.Run(Qemu(maxBytes, maxDepth, maxTokens), garbage);
                Assert.Equal(whole, ReaderTests.Run(Qemu(maxBytes, maxDepth, maxTokens), garbage, cuts));
                Assert.Equal(whole, ReaderTests.Run(Qemu(maxBytes, maxDepth, maxTokens), garbage, cuts, memory: true));
            }, iter: 3000);
    }

    [Fact]
    public void Property_values_within_the_bounds_frame_as_in_the_default_mode()
    {
        Gen.Select(ReaderBoundsTests.QObject, Gen.Int[0, 400].Array[0, 10])
            .Sample((value, cuts) =>
            {
                byte[] data = Encoding.UTF8.GetBytes(value + " " + value);
                Assert.Equal(ReaderTests.Run(new JsonMessageReader(), data, cuts), ReaderTests.Run(Qemu(), data, cuts));
            }, iter: 1000);
    }
}
