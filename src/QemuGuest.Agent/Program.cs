namespace QemuGuest.Agent;

public static class Program
{
    public static int Main(string[] args)
    {
        System.Console.Error.WriteLine("qemuguest-agent: not implemented yet (issue 5)");
        return 1;
    }
}
