using System;
using System.Text;
using System.Text.Json;
using System.Threading;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// Inputs `build.ps1 Fuzz` (target agent-dispatch) found crashing the agent's request path,
/// byte for byte, with the answer qemu-ga 7.2 gives to the same bytes.
/// </summary>
public class FuzzRegressionTests
{
    private static readonly RequestProcessor Processor = new(
        new GeneratedDispatcher(RecordingHandler.Create(), QgaPlatform.Linux),
        new CommandGate(Array.Empty<string>(), Array.Empty<string>(), null),
        NullLogger.Instance);

    private static string Process(byte[] message)
    {
        using var writer = new JsonMessageWriter();
        var pending = Processor.ProcessAsync(message, writer, CancellationToken.None);
        Assert.True(pending.IsCompleted);
        return Encoding.ASCII.GetString(pending.Result.Span).TrimEnd('\n');
    }

    private static string ErrorDesc(string reply)
    {
        using var doc = JsonDocument.Parse(reply);
        return doc.RootElement.GetProperty("error").GetProperty("desc").GetString()!;
    }

    [Fact]
    public void Invalid_utf8_in_a_top_level_member_name_is_a_parse_error_not_an_escaping_exception()
    {
        // afl-fuzz crash id:000000: InvalidOperationException out of RequestProcessor (the agent's loop).
        byte[] input = Encoding.Latin1.GetBytes("{\"exebute\":\"ng\",\"argument\x91\":[]}");
        Assert.Equal("JSON parse error, invalid UTF-8 sequence in string", ErrorDesc(Process(input)));
    }

    [Fact]
    public void Invalid_utf8_in_an_argument_name_never_reaches_the_generated_reader()
    {
        // afl-fuzz crash: InvalidOperationException out of the generated GuestExecArguments.ReadJson.
        byte[] input = Encoding.Latin1.GetBytes("{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/echo\",\"arg\":[\"hi\"],\"env\":[\"A=1\"],\"inp\x96t-data\":\"aGkK\",\"capture-o tput\":\"merged\"}}");
        Assert.Equal("JSON parse error, invalid UTF-8 sequence in string", ErrorDesc(Process(input)));
    }

    [Theory]
    // What qemu-ga 7.2 answers to each (observed on Debian's qemu-guest-agent).
    [InlineData("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"\\ud800/nonexist\"}}", "JSON parse error, \\ud800 is not a valid Unicode character")]
    [InlineData("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"\\udc00/nonexist\"}}", "JSON parse error, \\udc00 is not a valid Unicode character")]
    [InlineData("{\"execute\":\"guest-ping\",\"id\":\"\\ud800\"}", "JSON parse error, \\ud800 is not a valid Unicode character")]
    [InlineData("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"\xc3(\"}}", "JSON parse error, invalid UTF-8 sequence in string")]
    [InlineData("{'execute':'guest-ping','x\xed\xa0\x80':1}", "JSON parse error, invalid UTF-8 sequence in string")]
    public void Bad_strings_get_qemu_gas_answer(string latin1, string desc)
    {
        Assert.Equal(desc, ErrorDesc(Process(Encoding.Latin1.GetBytes(latin1))));
    }

    [Fact]
    public void Good_surrogate_pairs_and_multibyte_text_still_dispatch()
    {
        string reply = Process(Encoding.UTF8.GetBytes("{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/tmp/\\ud83d\\ude00-é-😀\"},\"id\":7}"));
        Assert.Equal(RecordingHandler.Refusal, ErrorDesc(reply));
    }

    [Fact]
    public async System.Threading.Tasks.Task The_whole_fuzzer_input_gives_one_well_formed_reply_per_message()
    {
        // afl-fuzz crash: a stream of mutated requests; every framed message gets a JSON reply.
        byte[] input = Encoding.Latin1.GetBytes("{\"e\"guest-fsfreeze-freeze-list\"x\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":123456789}}{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"/etc/hostname\",\"mo\x83e\":\"r\"},\"id\":1}{\"execute\":\"guest-file-read\",\"arguments\":{\bhandle\":1000,\"count\":4096}}");
        using var reader = new JsonMessageReader();
        using var writer = new JsonMessageWriter();
        ReadOnlyMemory<byte> rest = input;
        int replies = 0;
        while (!rest.IsEmpty)
        {
            JsonFrame frame = reader.Read(rest, out int used);
            rest = rest.Slice(used);
            if (frame.Kind == JsonFrameKind.None)
            {
                continue;
            }

            ReadOnlyMemory<byte> reply = frame.Kind == JsonFrameKind.Message
                ? await Processor.ProcessAsync(frame.Message, writer, CancellationToken.None)
                : RequestProcessor.FramingError(frame, writer);
            using var doc = JsonDocument.Parse(reply.Slice(reply.Span[0] == 0xFF ? 1 : 0));
            Assert.True(doc.RootElement.TryGetProperty("error", out _) || doc.RootElement.TryGetProperty("return", out _));
            replies++;
        }

        Assert.True(replies >= 4, $"{replies} replies");
    }
}
