using System.Text;
using System.Text.Json;
using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

public class JsonStringCheckTests
{
    [Theory]
    [InlineData("{\"a\":\"plain\"}", null)]
    [InlineData("{\"a\":\"\\ud83d\\ude00 \\u00e9 \\\" \\\\u\"}", null)]
    [InlineData("{'a':'it\\'s \\ud800\\udc00'}", null)]
    [InlineData("{\"a\":\"\\ud800\"}", "\\ud800 is not a valid Unicode character")]
    [InlineData("{\"a\":\"\\uDBFF\\u0041\"}", "\\uDBFF is not a valid Unicode character")]
    [InlineData("{\"\\udfff\":1}", "\\udfff is not a valid Unicode character")]
    [InlineData("{\"a\":\"\\u12\"}", null)] // a malformed escape is the parser's to report
    public void Escapes(string text, string? error)
    {
        Assert.Equal(error, JsonStringCheck.FindError(Encoding.UTF8.GetBytes(text)));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0xA9 }, true)]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98, 0x80 }, true)]
    [InlineData(new byte[] { 0x91 }, false)]
    [InlineData(new byte[] { 0xC0, 0xAF }, false)] // overlong '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, false)] // encoded surrogate
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 }, false)] // above U+10FFFF
    [InlineData(new byte[] { 0xE2, 0x82 }, false)] // cut short by the closing quote
    public void Utf8(byte[] inString, bool valid)
    {
        byte[] message = [.. "{\"a\":\""u8.ToArray(), .. inString, .. "\"}"u8.ToArray()];
        Assert.Equal(valid ? null : "invalid UTF-8 sequence in string", JsonStringCheck.FindError(message));
    }

    [Fact]
    public void Property_agrees_with_a_strict_utf8_decoder_and_with_system_text_json()
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        Gen.Byte.Array[0, 12].Sample(bytes =>
        {
            // Bytes that cannot end or escape the string: only UTF-8 validity is in question.
            byte[] body = System.Array.FindAll(bytes, b => b >= 0x20 && b != (byte)'"' && b != (byte)'\\');
            byte[] message = [.. "{\"a\":\""u8.ToArray(), .. body, .. "\"}"u8.ToArray()];
            bool decodes;
            try
            {
                strict.GetString(body);
                decodes = true;
            }
            catch (DecoderFallbackException)
            {
                decodes = false;
            }

            string? error = JsonStringCheck.FindError(message);
            Assert.Equal(decodes, error is null);
            if (error is null)
            {
                // Once it passes, reading the string can never throw.
                using var doc = JsonDocument.Parse(message);
                Assert.Equal(strict.GetString(body), doc.RootElement.GetProperty("a").GetString());
            }
        }, iter: 5000);
    }
}
