using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using CsCheck;

namespace QemuGuest.Schema.Tests;

public class PropertyTests
{
    private const string Alphabet = "{}[]:,'\"#@\\ \n\r\t\u00e9\ufeff-_*abcdefgtruefalsnul0123456789ABCDEFGSQTcommandstructenumdata";

    private static SchemaError? LoadText(string text, Dictionary<string, string>? files = null)
    {
        try
        {
            SchemaLoader.Load("fuzz.json", p => p == "fuzz.json" ? text : files is not null && files.TryGetValue(p, out var t) ? t : null);
            return null;
        }
        catch (SchemaError e)
        {
            // Every error carries a location inside a file we gave it.
            Assert.True(e.Location.Line >= 1 && e.Location.Column >= 1, e.Text);
            Assert.False(string.IsNullOrEmpty(e.Text));
            return e;
        }
    }

    [Fact]
    public void RandomTextOnlyEverFailsWithSchemaError()
    {
        Gen.String[Gen.Char[Alphabet], 0, 300].Sample(text => { LoadText(text); }, iter: 3000, threads: 1);
    }

    [Fact]
    public void MutatedValidSchemaOnlyEverFailsWithSchemaError()
    {
        string original = TestFiles.Read("valid/qemu-compat.json")!;
        var gen = Gen.Select(Gen.Int[0, original.Length - 1], Gen.Int[0, 20], Gen.Char[Alphabet], Gen.Int[0, 2]);
        gen.Sample(t =>
        {
            var (pos, len, ch, op) = t;
            len = Math.Min(len, original.Length - pos);
            string text = op switch
            {
                0 => original.Remove(pos, len),
                1 => original.Insert(pos, new string(ch, len + 1)),
                _ => original.Substring(0, pos) + ch + original.Substring(pos + 1),
            };
            LoadText(text);
        }, iter: 600, threads: 1);
    }

    private sealed record GenMember(string Name, int TypeChoice, bool Optional, bool IsArray);

    private sealed record GenStruct(string Name, List<GenMember> Members);

    private static readonly Gen<string> Word = Gen.String[Gen.Char['a', 'z'], 1, 6];

    private static readonly string[] Builtins = { "str", "int", "bool", "number", "uint64", "size", "any" };

    [Fact]
    public void RandomValidSchemasRoundTrip()
    {
        var member = Gen.Select(Word, Gen.Int[0, 100], Gen.Bool, Gen.Bool);
        var structs = Gen.Select(Word, member.List[0, 6]).List[1, 6];
        var enums = Word.List[0, 5].List[0, 3];
        var commands = Gen.Select(Word, Gen.Int[-1, 100], Gen.Int[-1, 100], member.List[0, 4]).List[0, 5];
        Gen.Select(structs, enums, commands).Sample(t =>
        {
            var (rawStructs, rawEnums, rawCommands) = t;
            int n = 0;
            string Unique(string word) => word + "-q" + (n++).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string TypeName(string word) => "T" + word + "Q" + (n++).ToString(System.Globalization.CultureInfo.InvariantCulture);

            var sb = new StringBuilder();
            var enumNames = new List<string>();
            foreach (var values in rawEnums)
            {
                string name = TypeName("enum");
                enumNames.Add(name);
                sb.Append("{ 'enum': '").Append(name).Append("', 'data': [ ")
                  .Append(string.Join(", ", values.Select(v => "'v" + Unique(v) + "'"))).Append(" ] }\n");
            }
            var types = new List<string>(Builtins);
            types.AddRange(enumNames);
            var written = new List<GenStruct>();
            string RenderMembers(IEnumerable<GenMember> ms) =>
                "{ " + string.Join(", ", ms.Select(m => "'" + (m.Optional ? "*" : "") + m.Name + "': " +
                    (m.IsArray ? "[ '" + types[m.TypeChoice % types.Count] + "' ]" : "'" + types[m.TypeChoice % types.Count] + "'"))) + " }";
            foreach (var (word, rawMembers) in rawStructs)
            {
                var s = new GenStruct(TypeName(word), rawMembers.Select(m => new GenMember("m" + Unique(m.Item1), m.Item2, m.Item3, m.Item4)).ToList());
                sb.Append("{ 'struct': '").Append(s.Name).Append("', 'data': ").Append(RenderMembers(s.Members)).Append(" }\n");
                // Record the type choices as names now: later structs may also refer to this one.
                written.Add(s with { Members = s.Members.Select(m => m with { TypeChoice = m.TypeChoice % types.Count }).ToList() });
                types.Add(s.Name);
            }
            var cmds = new List<(string Name, List<GenMember> Args, string? Returns)>();
            var returnsExceptions = new List<string>();
            foreach (var (word, ret, _, rawArgs) in rawCommands)
            {
                string name = "cmd-" + Unique(word);
                var args = rawArgs.Select(m => new GenMember("a" + Unique(m.Item1), m.Item2 % types.Count, m.Item3, m.Item4)).ToList();
                string? returns = ret < 0 ? null : types[ret % types.Count];
                if (returns is not null && !written.Any(w => w.Name == returns))
                {
                    returnsExceptions.Add(name);
                }
                sb.Append("{ 'command': '").Append(name).Append('\'');
                if (args.Count > 0)
                {
                    sb.Append(", 'data': ").Append(RenderMembers(args));
                }
                if (returns is not null)
                {
                    sb.Append(", 'returns': '").Append(returns).Append('\'');
                }
                sb.Append(" }\n");
                cmds.Add((name, args, returns));
            }
            sb.Insert(0, "{ 'pragma': { 'command-returns-exceptions': [ " + string.Join(", ", returnsExceptions.Select(r => "'" + r + "'")) + " ] } }\n");

            var schema = SchemaLoader.Load("gen.json", p => p == "gen.json" ? sb.ToString() : null);
            foreach (var s in written)
            {
                var st = schema.Find<QapiStruct>(s.Name);
                Assert.NotNull(st);
                Assert.Equal(s.Members.Select(m => m.Name), st!.AllMembers.Select(m => m.Name));
                Assert.Equal(s.Members.Select(m => m.Optional), st.AllMembers.Select(m => m.Optional));
                Assert.Equal(s.Members.Select(m => m.IsArray), st.AllMembers.Select(m => m.Type.IsArray));
            }
            foreach (var (name, args, returns) in cmds)
            {
                var c = schema.Find<QapiCommand>(name)!;
                Assert.Equal(returns, c.Returns?.Name);
                if (args.Count == 0)
                {
                    Assert.Null(c.Arguments);
                }
                else
                {
                    Assert.Equal(args.Select(a => a.Name), schema.Find<QapiStruct>(c.Arguments!)!.AllMembers.Select(m => m.Name));
                }
            }
            Assert.Equal(enumNames.Count, schema.Entities.OfType<QapiEnum>().Count());
            // Value equality: parsing the same text twice gives equal models.
            Assert.Equal(schema, SchemaLoader.Load("gen.json", p => p == "gen.json" ? sb.ToString() : null));
        }, iter: 500, threads: 1);
    }
}
