using System;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// Issue 20's streaming standard input (exec-start stream-input + exec-write) against our
/// agent as a real process over its real socket, with real children (cat, sh, sleep). Every
/// loop is bounded by a deadline; a child left running is killed by the agent's process group
/// on dispose.
/// </summary>
public sealed class ExecStreamInputTests : IDisposable
{
    private const string Start = "__com.qemuguest_guest-exec-start";
    private const string Write = "__com.qemuguest_guest-exec-write";
    private const string Read = "__com.qemuguest_guest-exec-read";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private readonly AgentProcess _agent = new(AgentKind.Ours);

    public void Dispose() => _agent.Dispose();

    private JsonElement Call(string command, string arguments) =>
        _agent.Execute("{\"execute\":\"" + command + "\",\"arguments\":" + arguments + "}");

    private static JsonElement Ok(JsonElement reply)
    {
        Assert.True(reply.TryGetProperty("return", out JsonElement r), reply.GetRawText());
        return r;
    }

    private static string Error(JsonElement reply)
    {
        Assert.True(reply.TryGetProperty("error", out JsonElement e), reply.GetRawText());
        Assert.Equal("GenericError", e.GetProperty("class").GetString());
        return e.GetProperty("desc").GetString()!;
    }

    private long StartStreaming(string path, params string[] args)
    {
        string argv = JsonSerializer.Serialize(args);
        return Ok(Call(Start, "{\"path\":\"" + path + "\",\"arg\":" + argv + ",\"capture-output\":\"separated\",\"stream-output\":true,\"stream-input\":true}")).GetProperty("pid").GetInt64();
    }

    private JsonElement WriteInput(long pid, byte[] data, bool close = false) =>
        Call(Write, "{\"pid\":" + pid + ",\"input-data\":\"" + Convert.ToBase64String(data) + "\"" + (close ? ",\"close\":true" : "") + "}");

    /// <summary>Reads until <paramref name="until"/> holds for the stdout so far or the program exited.</summary>
    private (string Out, JsonElement Last) ReadUntil(long pid, Func<string, bool> until)
    {
        var output = new StringBuilder();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            JsonElement r = Ok(Call(Read, "{\"pid\":" + pid + ",\"wait-ms\":500}"));
            if (r.TryGetProperty("out-data", out JsonElement o))
            {
                output.Append(Encoding.UTF8.GetString(o.GetBytesFromBase64()));
            }

            if (r.GetProperty("exited").GetBoolean() || until(output.ToString()))
            {
                return (output.ToString(), r);
            }

            Assert.True(clock.Elapsed < Patience, "no end in sight; output so far: " + output);
        }
    }

    [Fact]
    public void Cat_echoes_what_is_written_while_it_runs_and_ends_when_input_is_closed()
    {
        long pid = StartStreaming("cat");
        JsonElement w = Ok(WriteInput(pid, "first line\n"u8.ToArray()));
        Assert.Equal(11, w.GetProperty("count").GetInt64());
        Assert.False(w.GetProperty("closed").GetBoolean());

        // The first answer arrives while cat still runs: that is what streaming input is for.
        var (first, r1) = ReadUntil(pid, s => s.Contains("first line\n", StringComparison.Ordinal));
        Assert.Equal("first line\n", first);
        Assert.False(r1.GetProperty("exited").GetBoolean());

        w = Ok(WriteInput(pid, "second\n"u8.ToArray(), close: true));
        Assert.Equal(7, w.GetProperty("count").GetInt64());
        Assert.True(w.GetProperty("closed").GetBoolean());
        var (rest, last) = ReadUntil(pid, _ => false);
        Assert.Equal("second\n", rest);
        Assert.True(last.GetProperty("exited").GetBoolean());
        Assert.Equal(0, last.GetProperty("exitcode").GetInt64());
    }

    [Fact]
    public void Input_data_goes_first_and_an_empty_write_only_closes()
    {
        long pid = Ok(Call(Start, "{\"path\":\"cat\",\"input-data\":\"" + Convert.ToBase64String("head:"u8.ToArray()) + "\",\"capture-output\":\"stdout\",\"stream-output\":true,\"stream-input\":true}")).GetProperty("pid").GetInt64();
        Ok(WriteInput(pid, "tail"u8.ToArray()));
        Assert.True(Ok(WriteInput(pid, Array.Empty<byte>(), close: true)).GetProperty("closed").GetBoolean());
        var (all, last) = ReadUntil(pid, _ => false);
        Assert.Equal("head:tail", all);
        Assert.Equal(0, last.GetProperty("exitcode").GetInt64());
    }

    [Fact]
    public void Writing_after_close_names_the_closed_input()
    {
        long pid = StartStreaming("sleep", "30");
        Assert.True(Ok(WriteInput(pid, "x"u8.ToArray(), close: true)).GetProperty("closed").GetBoolean());
        Assert.Equal("Standard input of program " + pid + " is closed", Error(WriteInput(pid, "y"u8.ToArray())));
    }

    [Fact]
    public void Writing_to_an_unknown_pid_or_a_program_without_stream_input_is_refused()
    {
        Assert.Equal("Invalid parameter 'pid'", Error(WriteInput(999999999, "x"u8.ToArray())));
        long plain = Ok(Call(Start, "{\"path\":\"sleep\",\"arg\":[\"30\"]}")).GetProperty("pid").GetInt64();
        Assert.Equal("Program " + plain + " was not started with stream-input", Error(WriteInput(plain, "x"u8.ToArray())));

        // guest-exec's children are not extension children: exec-write does not reach them.
        long stock = Ok(Call("guest-exec", "{\"path\":\"sleep\",\"arg\":[\"30\"]}")).GetProperty("pid").GetInt64();
        Assert.Equal("Invalid parameter 'pid'", Error(WriteInput(stock, "x"u8.ToArray())));
    }

    [Fact]
    public void Writing_to_a_program_that_exited_names_the_exit_and_its_status_is_still_read()
    {
        long pid = StartStreaming("sh", "-c", "exit 3");
        var clock = Stopwatch.StartNew();
        string desc;
        while (true)
        {
            JsonElement reply = WriteInput(pid, "x"u8.ToArray());
            if (reply.TryGetProperty("error", out _))
            {
                // The pipe may break (EPIPE) a moment before the agent has reaped the child.
                desc = Error(reply);
                if (desc != "Program " + pid + " closed its standard input")
                {
                    break;
                }
            }

            Assert.True(clock.Elapsed < Patience, "the exit of sh was never noticed");
            System.Threading.Thread.Sleep(50);
        }

        Assert.Equal("Program " + pid + " has exited; its standard input is gone", desc);
        var (_, last) = ReadUntil(pid, _ => false);
        Assert.Equal(3, last.GetProperty("exitcode").GetInt64());
        Assert.Equal("Invalid parameter 'pid'", Error(WriteInput(pid, "x"u8.ToArray())));
    }

    [Fact]
    public void Invalid_base64_is_refused_and_the_program_keeps_its_input()
    {
        long pid = StartStreaming("cat");
        string desc = Error(Call(Write, "{\"pid\":" + pid + ",\"input-data\":\"not base64!\"}"));
        Assert.Equal("Base64 data contains invalid characters", desc);
        Ok(WriteInput(pid, "still open\n"u8.ToArray(), close: true));
        var (all, last) = ReadUntil(pid, _ => false);
        Assert.Equal("still open\n", all);
        Assert.Equal(0, last.GetProperty("exitcode").GetInt64());
    }

    [Fact]
    public void A_program_that_never_reads_bounds_the_queue_and_never_blocks_the_agent()
    {
        long max = Ok(Call("__com.qemuguest_guest-agent-capabilities", "{}")).GetProperty("max-exec-input-bytes").GetInt64();
        Assert.True(max > 0);
        long pid = StartStreaming("sleep", "60");
        byte[] block = new byte[1024 * 1024];
        long taken = 0;
        long last = -1;
        for (int i = 0; i < 8 && last != 0; i++)
        {
            last = Ok(WriteInput(pid, block)).GetProperty("count").GetInt64();
            taken += last;
        }

        // The pipe itself holds up to 64 KiB the program never read; the rest waits in the queue.
        Assert.Equal(0, last);
        Assert.InRange(taken, max, max + (1024 * 1024));
        Assert.True(Ok(Call("guest-ping", "{}")).ValueKind == JsonValueKind.Object);
        Ok(Call("__com.qemuguest_guest-exec-kill", "{\"pid\":" + pid + ",\"signal\":9}"));
        var (_, end) = ReadUntil(pid, _ => false);
        Assert.Equal(9, end.GetProperty("signal").GetInt64());
    }
}
