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
                    text = text.TrimEnd('='); // missing padding (GLib accepts it)
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
    [InlineData("", "")]
    [InlineData("aGk=", "hi")]
    [InlineData("aGk", "hi")]
    [InlineData("a\nGk=", "hi")]
    [InlineData("aG=k", "hi")]
    [InlineData("====", "")]
    [InlineData("aGVsbG8gd29ybGQ=", "hello world")]
    public void Decodes_like_glib(string input, string expected)
    {
        Assert.Equal(expected, Encoding.ASCII.GetString(QemuBase64.Decode(input)));
        Assert.Equal(expected, Encoding.ASCII.GetString(DecodeUtf8(input)));
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
