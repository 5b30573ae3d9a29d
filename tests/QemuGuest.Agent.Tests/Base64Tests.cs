using System;
using System.Text;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The vectorised fast path of <see cref="QemuBase64.Decode(string)"/> (and of the UTF-8 overload the
/// dispatcher's base64 members use) must give exactly what GLib's
/// lenient decoding (the path qemu-ga takes) gives, on every input either accepts.
/// </summary>
public class Base64Tests
{
    [Fact]
    public void Fast_path_and_lenient_decoding_agree_on_random_input()
    {
        var random = new Random(20261126);
        for (int i = 0; i < 3000; i++)
        {
            var data = new byte[random.Next(0, 300)];
            random.NextBytes(data);
            string text = Convert.ToBase64String(data);
            switch (i % 5)
            {
                case 1:
                    text = text.TrimEnd('='); // missing padding (GLib drops the partial group)
                    break;
                case 2:
                    text = text.Insert(random.Next(0, text.Length + 1), "\n");
                    break;
                case 3:
                    text = text.Insert(random.Next(0, text.Length + 1), "=");
                    break;
                case 4:
                    // Non-zero trailing bits in the last quantum.
                    if (text.EndsWith('='))
                    {
                        int at = text.IndexOf('=') - 1;
                        text = text.Substring(0, at) + "z" + text.Substring(at + 1);
                    }
                    break;
            }

            byte[] lenient = QemuBase64.DecodeLeniently(text);
            Assert.True(lenient.AsSpan().SequenceEqual(QemuBase64.Decode(text)), $"case {i}: '{text}'");
            Assert.True(lenient.AsSpan().SequenceEqual(DecodeUtf8(text)), $"case {i} (UTF-8): '{text}'");
        }
    }

    [Theory]
    // Each expected value is what Debian's qemu-ga 7.2 (GLib 2.74) wrote to the file for that
    // guest-file-write buf-b64, probed 2026-12-07 (guest-file-open "w", write, close, read back).
    [InlineData("", "")]
    [InlineData("aGk=", "6869")]
    [InlineData("aGk", "")]
    [InlineData("a\nGk=", "6869")]
    [InlineData("aG=k", "6824")]
    [InlineData("====", "00")]
    [InlineData("=", "")]
    [InlineData("YWJjZA", "616263")]
    [InlineData("YWJjZA=", "616263")]
    [InlineData("YWJjZA==", "61626364")]
    [InlineData("YWJj\nZA", "616263")]
    [InlineData("YQ==YQ==", "6161")]
    [InlineData("YQ", "")]
    [InlineData("YQ===", "61")]
    [InlineData("YR==", "61")]
    [InlineData("=AAA", "000000")]
    [InlineData("AA=A", "0000")]
    [InlineData("YW=J", "6109")]
    [InlineData("Y=Q=", "6004")]
    [InlineData("aGVsbG8gd29ybGQ=", "68656c6c6f20776f726c64")]
    public void Decodes_like_glib(string input, string expectedHex)
    {
        Assert.Equal(expectedHex, Convert.ToHexString(QemuBase64.Decode(input)).ToLowerInvariant());
        Assert.Equal(expectedHex, Convert.ToHexString(DecodeUtf8(input)).ToLowerInvariant());
    }

    [Theory]
    [InlineData("aGk=\0", "Base64 data contains embedded NUL characters")]
    [InlineData("aG k=", "Base64 data contains invalid characters")]
    [InlineData("aGk=\r\n", "Base64 data contains invalid characters")]
    [InlineData("aG\tk=", "Base64 data contains invalid characters")]
    [InlineData("-_", "Base64 data contains invalid characters")]
    [InlineData("a\u00e9", "Base64 data contains invalid characters")]
    public void Refuses_what_qemu_refuses_with_its_text(string input, string message)
    {
        Assert.Equal(message, Assert.Throws<AgentCommandException>(() => QemuBase64.Decode(input)).Message);
        Assert.Equal(message, Assert.Throws<AgentCommandException>(() => DecodeUtf8(input)).Message);
    }

    private static byte[] DecodeUtf8(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var output = new byte[QemuBase64.MaxDecodedLength(utf8.Length)];
        int n = QemuBase64.Decode(utf8, output);
        return output.AsSpan(0, n).ToArray();
    }
}
