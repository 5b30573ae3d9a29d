# The one way a suite gets a live agent and a session on it: dot-source this file inside
# BeforeAll, after importing tools/LocalAgent.psm1 and the module under test.
#
#     $script:Agent, $script:S = Start-AgentSession -Kind Stock -Name 'pester-x'
#     ...
#     Stop-AgentSession $Agent -AllSessions
#
# Kinds: Stock (Debian's qemu-ga), Ours, Hostile (the hostile agent program; -Mode, and its
# ModeFile to change the mode between requests), Wine (our Windows agent under Wine: Start-WineAgent).

function Start-AgentSession {
    # Returns the agent (Start-LocalAgent's object) and the session, in that order. When the
    # session cannot be opened the agent is stopped again, so a failing BeforeAll leaves no
    # process behind.
    param(
        [ValidateSet('Stock', 'Ours', 'Hostile', 'Wine')] [string] $Kind = 'Stock',
        [Parameter(Mandatory)] [string] $Name,
        [string[]] $ExtraArguments = @(),
        [int] $ConnectTimeoutSec,
        [string] $Mode = 'normal'
    )
    $agent = Start-LocalAgent -Kind $Kind -ExtraArguments $ExtraArguments -Mode $Mode
    $open = @{ ConnectionString = $agent.ConnectionString; Name = $Name; ErrorAction = 'Stop' }
    if ($PSBoundParameters.ContainsKey('ConnectTimeoutSec')) { $open.ConnectTimeoutSec = $ConnectTimeoutSec }
    try {
        $session = New-VMGuestSession @open
    }
    catch {
        $agent | Stop-LocalAgent
        throw
    }
    $agent
    $session
}

function Stop-AgentSession {
    # Closes the session (-AllSessions: every open one, for suites that open more on the same
    # agent), then stops the agent.
    param($Agent, $Session, [switch] $AllSessions)
    if ($AllSessions) {
        Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    }
    elseif ($Session) {
        $Session | Remove-VMGuestSession -Confirm:$false
    }
    if ($Agent) { $Agent | Stop-LocalAgent }
}
