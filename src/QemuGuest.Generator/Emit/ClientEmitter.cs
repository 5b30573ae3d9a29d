using System.Collections.Generic;
using QemuGuest.Schema;

namespace QemuGuest.Generator.Emit;

/// <summary>
/// Backend "client": <c>GuestAgentCommands</c>, one async method per command. Parameters are the
/// argument members (required first, then optional ones defaulting to null; boxed commands take the
/// argument type), then <c>QgaCallOptions? options = null, CancellationToken cancellationToken = default</c>.
/// Returns the typed result, or Task when the command returns nothing. A reply that does not match the
/// schema becomes QgaProtocolException (QapiReply.Read).
/// </summary>
internal static class ClientEmitter
{
    public static string Emit(TypeMap map)
    {
        var w = new SourceWriter();
        var usings = new List<string> { "System", "System.Collections.Generic", "System.Text.Json", "System.Threading", "System.Threading.Tasks", "QemuGuest.Protocol", "QemuGuest.Protocol.Marshalling" };
        if (map.TypesNamespace != map.Namespace)
        {
            usings.Add(map.TypesNamespace);
        }
        w.Banner("client", usings.ToArray());
        w.Line("namespace " + map.Namespace + ";");
        w.Line();
        w.Line("/// <summary>Every command of the schema as a typed async method over an <see cref=\"IGuestAgentChannel\"/>.</summary>");
        w.Open("public sealed partial class GuestAgentCommands");
        w.Open("public GuestAgentCommands(IGuestAgentChannel channel)");
        w.Line("Channel = channel ?? throw new ArgumentNullException(nameof(channel));");
        w.Close();
        w.Line();
        w.Line("/// <summary>The channel commands are sent on.</summary>");
        w.Line("public IGuestAgentChannel Channel { get; }");
        foreach (var c in map.Schema.Commands)
        {
            w.Line();
            EmitCommand(w, map, c);
        }
        w.Close();
        return w.ToString();
    }

    private static void EmitCommand(SourceWriter w, TypeMap map, QapiCommand c)
    {
        DocWriter.Entity(w, c, "Runs <c>" + c.Name + "</c>.");
        var ps = new List<string>();
        string argsExpr = "null";
        if (c.Arguments is not null)
        {
            string argType = map.TypeName(c.Arguments);
            if (c.Boxed)
            {
                w.Line("/// <param name=\"arguments\">The command's arguments.</param>");
                ps.Add(argType + " arguments");
                argsExpr = "arguments ?? throw new ArgumentNullException(nameof(arguments))";
            }
            else
            {
                var members = map.CommandMembers(c);
                foreach (var m in TypeMap.SignatureOrder(members))
                {
                    string p = TypeMap.ClientParameterName(m.Name);
                    string? doc = c.Doc?.MemberText(m.Name);
                    if (!string.IsNullOrWhiteSpace(doc))
                    {
                        DocWriter.Tag(w, "param", doc!, "name=\"" + p.TrimStart('@') + "\"");
                    }
                    else
                    {
                        w.Line("/// <param name=\"" + p.TrimStart('@') + "\">Wire argument \"" + DocWriter.Escape(m.Name) + "\"" + (m.Optional ? " (optional)" : string.Empty) + ".</param>");
                    }
                    ps.Add(map.MemberType(m) + " " + p + (m.Optional ? " = null" : string.Empty));
                }
                argsExpr = map.Construct(argType, members, m => TypeMap.ClientParameterName(m.Name));
            }
        }
        w.Line("/// <param name=\"options\">Per-call settings (timeout); null for the channel's defaults.</param>");
        w.Line("/// <param name=\"cancellationToken\">Cancels the call.</param>");
        if (!string.IsNullOrWhiteSpace(c.Doc?.Returns))
        {
            DocWriter.Tag(w, "returns", c.Doc!.Returns!);
        }
        ps.Add("QgaCallOptions? options = null");
        ps.Add("CancellationToken cancellationToken = default");
        string lit = TypeMap.Literal(c.Name);
        string method = TypeMap.CommandMethod(c);
        if (!c.SuccessResponse)
        {
            w.Open("public Task " + method + "(" + string.Join(", ", ps) + ")");
            w.Line("return Channel.ExecuteWithoutResponseAsync(" + lit + ", " + argsExpr + ", options, cancellationToken);");
            w.Close();
            return;
        }
        if (c.Returns is null)
        {
            w.Open("public async Task " + method + "(" + string.Join(", ", ps) + ")");
            w.Line("await Channel.ExecuteAsync(" + lit + ", " + argsExpr + ", options, cancellationToken).ConfigureAwait(false);");
            w.Close();
            return;
        }
        string ret = map.CsType(c.Returns);
        w.Open("public async Task<" + ret + "> " + method + "(" + string.Join(", ", ps) + ")");
        w.Line("JsonElement qgaResult = await Channel.ExecuteAsync(" + lit + ", " + argsExpr + ", options, cancellationToken).ConfigureAwait(false);");
        w.Line("return QapiReply.Read(" + lit + ", qgaResult, static (e, p) => " + map.ReadExpr(c.Returns, "e", "p", 1) + ");");
        w.Close();
    }
}
