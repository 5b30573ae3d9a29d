using System.Linq;
using System.Text;
using QemuGuest.Protocol.Framing;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Tests;

public class BoundedJsonTests
{
    [Fact]
    public void The_token_bound_is_the_framers_so_no_document_is_built_past_it()
    {
        byte[] many = Encoding.ASCII.GetBytes("[" + string.Join(",", Enumerable.Repeat("1", 1000)) + "]");
        using (var reader = new JsonMessageReader(1 << 20, 64, 500))
        {
            Assert.Equal(JsonFrameKind.TooManyTokens, reader.Read(many, out _).Kind);
        }

        using (var reader = new JsonMessageReader(1 << 20, 64, 5000))
        {
            var frame = reader.Read(many, out _);
            Assert.Equal(JsonFrameKind.Message, frame.Kind);
            using var ok = BoundedJson.TryParse(frame.Message.Span, 64, out var error);
            Assert.NotNull(ok);
            Assert.Null(error);
        }
    }

    [Fact]
    public void Refuses_depth_duplicates_and_non_json()
    {
        Assert.Null(BoundedJson.TryParse(Encoding.ASCII.GetBytes(new string('[', 70) + new string(']', 70)), 64, out _));
        Assert.Null(BoundedJson.TryParse("{\"return\": 1, \"return\": 2}"u8, 64, out var dup));
        Assert.NotNull(dup);
        Assert.Null(BoundedJson.TryParse("{'a': 1}"u8, 64, out _));
        Assert.Null(BoundedJson.TryParse("{\"a\": 1} x"u8, 64, out _));
    }
}
