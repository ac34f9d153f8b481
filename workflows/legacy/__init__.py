"""Legacy: PostPurchaseJourney, the first workflow type, kept registered only so that runs
started before OrderJourney replaced it finish (docs/changing-journeys.md). Nothing
starts it any more. Delete the package once no PostPurchaseJourney run remains:
`temporal workflow list --query 'WorkflowType="PostPurchaseJourney" AND
ExecutionStatus="Running"'`."""
