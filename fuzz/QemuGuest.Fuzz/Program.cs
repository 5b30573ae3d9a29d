using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SharpFuzz;

namespace QemuGuest.Fuzz;

/// <summary>
/// <c>qemuguest-fuzz TARGET</c> serves afl-fuzz (SharpFuzz's in-process fork server);
/// <c>qemuguest-fuzz TARGET --replay PATH...</c> runs files or folders of inputs once each
/// and prints every crash with its stack (how build.ps1 triages afl's crashes/ folder; run
/// the uninstrumented build for that: instrumented code needs afl's shared memory).
/// Exit codes: 0 clean, 1 a crash or hang, 2 usage.
/// </summary>
public static class Program
{
    // Factories, not instances: instrumented code must not run before Fuzzer.Run has mapped
    // afl's coverage memory (it writes to it on every branch).
    private static readonly Dictionary<string, Func<IFuzzTarget>> Targets = new(StringComparer.Ordinal)
    {
        ["reader"] = () => new ReaderTarget(),
        ["agent-dispatch"] = () => new AgentDispatchTarget(),
        ["relay-validation"] = () => new RelayValidationTarget(),
        ["qapi-parser"] = () => new QapiParserTarget(),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out Func<IFuzzTarget>? target))
        {
            Console.Error.WriteLine($"usage: qemuguest-fuzz {{{string.Join("|", Targets.Keys)}}} [--replay FILE|DIR...]");
            Console.Error.WriteLine(args.Length == 0 ? "no target given" : $"unknown target '{args[0]}'");
            return 2;
        }

        var guard = new Guard(args[0], target);
        if (args.Length > 1 && args[1] == "--replay")
        {
            return Replay(guard, args.Skip(2));
        }

        if (args.Length > 1)
        {
            Console.Error.WriteLine($"unexpected argument '{args[1]}'");
            return 2;
        }

        Fuzzer.Run(guard.Run);
        return 0;
    }

    private static int Replay(Guard guard, IEnumerable<string> paths)
    {
        int files = 0;
        int crashes = 0;
        foreach (string path in paths)
        {
            IEnumerable<string> inputs = Directory.Exists(path)
                ? Directory.EnumerateFiles(path).Where(f => !Path.GetFileName(f).StartsWith("README", StringComparison.Ordinal)).OrderBy(f => f, StringComparer.Ordinal)
                : new[] { path };
            foreach (string file in inputs)
            {
                files++;
                try
                {
                    guard.RunBytes(File.ReadAllBytes(file));
                }
                catch (Exception e)
                {
                    crashes++;
                    Console.WriteLine($"CRASH {file}");
                    Console.WriteLine(e.ToString());
                }
            }
        }

        Console.WriteLine($"{guard.Name}: {files} inputs, {crashes} crashes");
        return crashes == 0 ? 0 : 1;
    }
}
