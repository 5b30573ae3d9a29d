using System.Linq;
using System.Text;
using QemuGuest.Protocol.Qga;
using QemuGuest.Relay.Guest;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Tests;

public class ReplyCheckerTests
{
    private static RelaySchema Schema { get; } = new(QgaSchemaDescriptors.Commands);

    private static GuestOutcome Check(string command, string reply, out string? problem)
    {
        var doc = BoundedJson.TryParse(Encoding.UTF8.GetBytes(reply), 64, out _)!;
        return ReplyChecker.Check(doc, Schema.Find(command)!, 100, out problem);
    }

    [Theory]
    [InlineData("guest-get-time", "{\"return\": 5, \"id\": 1}")]
    [InlineData("guest-ping", "{\"return\": {}}")]
    [InlineData("guest-get-host-name", "{\"return\": {\"host-name\": \"h\"}, \"id\": 1}")]
    [InlineData("guest-file-read", "{\"return\": {\"count\": 1, \"buf-b64\": \"YQ==\", \"eof\": false}}")]
    public void Passes_replies_of_the_declared_shape(string command, string reply)
    {
        using var o = Check(command, reply, out var problem);
        Assert.Null(problem);
        Assert.Equal(OutcomeKind.Return, o.Kind);
    }

    [Theory]
    [InlineData("guest-get-time", "{\"return\": \"5\"}", "expected: integer")]
    [InlineData("guest-ping", "{\"return\": {\"x\": 1}}", "'x' is unexpected")]
    [InlineData("guest-get-host-name", "{\"return\": {}}", "'host-name' is missing")]
    [InlineData("guest-file-read", "{\"return\": {\"count\": 1, \"buf-b64\": \"YQ==\", \"eof\": \"no\"}}", "expected: boolean")]
    [InlineData("guest-ping", "{\"return\": {}, \"error\": {\"class\": \"A\", \"desc\": \"b\"}}", "exactly one")]
    [InlineData("guest-ping", "{\"return\": {}, \"extra\": 1}", "unexpected member 'extra'")]
    [InlineData("guest-ping", "[1]", "not a JSON object")]
    [InlineData("guest-ping", "{\"error\": {\"class\": 1, \"desc\": \"x\"}}", "'error' must be")]
    [InlineData("guest-ping", "{\"error\": {\"class\": \"a b\", \"desc\": \"x\"}}", "not an identifier")]
    public void Turns_wrong_shapes_into_a_relay_error(string command, string reply, string expected)
    {
        using var o = Check(command, reply, out var problem);
        Assert.Equal(OutcomeKind.Error, o.Kind);
        Assert.Equal("GenericError", o.ErrorClass);
        Assert.StartsWith("qemuguest-relay: ", o.Description);
        Assert.Contains("does not match the schema", o.Description);
        Assert.Contains(expected, problem);
    }

    [Fact]
    public void Passes_agent_errors_with_a_bounded_desc()
    {
        using var o = Check("guest-ping", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"" + new string('x', 500) + "\"}}", out var problem);
        Assert.Null(problem);
        Assert.Equal("GenericError", o.ErrorClass);
        Assert.Equal(103, o.Description!.Length);
    }

    [Fact]
    public void Knows_the_no_reply_commands_from_the_schema()
    {
        var silent = Schema.Commands.Where(c => !c.SuccessResponse).Select(c => c.Name).ToHashSet();
        Assert.Contains("guest-shutdown", silent);
        Assert.Contains("guest-suspend-ram", silent);
        Assert.DoesNotContain("guest-ping", silent);
    }
}
